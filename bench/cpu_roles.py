"""CPU seconds by role (API, graph server, Redis, ...) from one snapshot of the process table.

Each process is counted under one role at most. The embedded engine's redis-server is spawned
by the API process (`ringwatch serve` starts it on first use), so it is also a descendant of
the API: counting "the API and all its children" plus "the engine" counted the engine twice,
which is why the decision bench's `other` column (machine minus the roles) came out at minus
the engine's CPU on a quiet machine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple


class ProcCpu(NamedTuple):
    ppid: int
    user_s: float
    system_s: float


def descendants(procs: Mapping[int, ProcCpu], root: int) -> set[int]:
    """root and every process below it in the snapshot (root only if it is in it)."""
    children: dict[int, list[int]] = {}
    for pid, p in procs.items():
        children.setdefault(p.ppid, []).append(pid)
    out: set[int] = set()
    todo = [root] if root in procs else []
    while todo:
        pid = todo.pop()
        if pid in out:  # a pid reused within the snapshot cannot make a cycle, but be safe
            continue
        out.add(pid)
        todo.extend(children.get(pid, ()))
    return out


def cpu_by_role(
    procs: Mapping[int, ProcCpu], api_pid: int, servers: Mapping[str, Iterable[int]]
) -> dict[str, float]:
    """CPU seconds (user + system) so far of the API's process tree and of each server role.

    A server's pid (and anything below it) belongs to its role even when it sits in the API's
    tree; the API is its tree minus those. `api_system` is the API's kernel share apart.
    """
    claimed: set[int] = set()
    out: dict[str, float] = {}
    for role, pids in servers.items():
        members: set[int] = set()
        for pid in pids:
            members |= descendants(procs, pid)
        members -= claimed  # a pid named under two roles counts under the first
        claimed |= members
        out[role] = sum(procs[p].user_s + procs[p].system_s for p in members)
    api = descendants(procs, api_pid) - claimed
    out["api"] = sum(procs[p].user_s + procs[p].system_s for p in api)
    out["api_system"] = sum(procs[p].system_s for p in api)
    return out
