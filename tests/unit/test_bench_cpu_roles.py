"""The decision bench's CPU accounting: each process under one role, none twice."""

from __future__ import annotations

import sys
from pathlib import Path

from pytest import approx

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from cpu_roles import ProcCpu, cpu_by_role, descendants  # type: ignore[import-not-found]

# The shape `ringwatch serve` has with the embedded engine: the API (100) spawned the engine
# (101) and its watchdog (102), and a worker thread pool lives inside 100. 103 is a child of
# the API that is not a server (a multiprocessing helper). 200 is someone else's process.
API, ENGINE, WATCH, HELPER, STRANGER = 100, 101, 102, 103, 200
PROCS = {
    1: ProcCpu(0, 0.0, 0.0),
    API: ProcCpu(1, 3.0, 0.5),
    ENGINE: ProcCpu(API, 1.5, 0.25),
    WATCH: ProcCpu(API, 0.01, 0.02),
    HELPER: ProcCpu(API, 0.2, 0.05),
    STRANGER: ProcCpu(1, 7.0, 1.0),
}


def test_a_server_below_the_api_counts_once_under_its_role() -> None:
    got = cpu_by_role(PROCS, API, {"neo4j": [], "redis_server": [ENGINE, WATCH]})
    assert got["redis_server"] == approx(1.5 + 0.25 + 0.01 + 0.02)
    assert got["api"] == approx(3.0 + 0.5 + 0.2 + 0.05)
    assert got["api_system"] == approx(0.5 + 0.05)
    # The roles add up to the CPU of the processes they cover, each counted once: this is what
    # makes `machine - roles` (the bench's `other`) the CPU of every process not named.
    covered = descendants(PROCS, API)
    assert got["api"] + got["redis_server"] == approx(
        sum(PROCS[p].user_s + PROCS[p].system_s for p in covered)
    )


def test_servers_outside_the_api_tree_and_their_children() -> None:
    procs = {**PROCS, 300: ProcCpu(1, 2.0, 1.0), 301: ProcCpu(300, 0.5, 0.0)}
    got = cpu_by_role(procs, API, {"neo4j": [300], "redis_server": []})
    assert got["neo4j"] == 3.5  # the server and its child
    assert got["redis_server"] == 0.0
    assert got["api"] == approx(3.0 + 0.5 + 1.5 + 0.25 + 0.01 + 0.02 + 0.2 + 0.05)


def test_a_pid_named_under_two_roles_counts_under_the_first() -> None:
    got = cpu_by_role(PROCS, API, {"neo4j": [ENGINE], "redis_server": [ENGINE]})
    assert got["neo4j"] == 1.75 and got["redis_server"] == 0.0


def test_processes_gone_from_the_snapshot_count_nothing() -> None:
    got = cpu_by_role(PROCS, 999, {"redis_server": [998]})
    assert got == {"redis_server": 0.0, "api": 0.0, "api_system": 0.0}
