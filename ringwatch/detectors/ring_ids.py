"""Stable ring ids across runs: match new rings to previous ones by member overlap.

A previous ring P and a new ring N are *linked* when they share at least `min_overlap` members
and the overlap covers at least `containment` of the smaller of the two (so growth from 5 to 50
members keeps the link, while one member moving does not make a link). Then:
- each previous ring's *heir* is its linked new ring with the largest overlap;
- a new ring takes the id of the previous ring(s) naming it heir (the largest overlap wins);
  otherwise it gets a fresh id, `ring_` + 16 hex of a hash of its sorted members at birth;
- events: created, grown, shrunk, changed (same size, other members), merged(from ids),
  split(into ids), dissolved.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MatchParams:
    containment: float = 0.5
    min_overlap: int = 2


@dataclass(frozen=True)
class RingIdentity:
    """`ids[i]` is the id of new ring i; `history` the events of this run, sorted."""

    ids: tuple[str, ...]
    history: tuple[dict[str, Any], ...]


def birth_id(members: Sequence[str], salt: int = 0) -> str:
    """'ring_' + 16 hex of SHA-256 over the sorted members (and a salt on collision).

    >>> birth_id(["b", "a"]) == birth_id(["a", "b"])
    True
    """
    text = "\x1f".join(sorted(members)) + (f"\x1e{salt}" if salt else "")
    return "ring_" + hashlib.sha256(text.encode()).hexdigest()[:16]


def assign_ring_ids(
    rings: Sequence[Sequence[str]],
    previous: Mapping[str, Sequence[str]] | None = None,
    params: MatchParams = MatchParams(),
) -> RingIdentity:
    """Ids for `rings` (lists of account ids) given the previous run's {ring id: members}.

    >>> first = assign_ring_ids([["a", "b", "c"]])
    >>> grown = assign_ring_ids([["a", "b", "c", "d"]], {first.ids[0]: ["a", "b", "c"]})
    >>> grown.ids == first.ids, grown.history[0]["event"]
    (True, 'grown')
    """
    if not 0 < params.containment <= 1 or params.min_overlap < 1:
        raise ValueError("containment must be in (0, 1] and min_overlap >= 1")
    previous = previous or {}
    new_sets = [frozenset(r) for r in rings]
    if any(len(s) != len(r) for s, r in zip(new_sets, rings, strict=True)):
        raise ValueError("a ring lists the same member twice")
    prev_ids = sorted(previous)
    prev_sets = {p: frozenset(previous[p]) for p in prev_ids}
    owner: dict[str, str] = {}
    for p in prev_ids:
        for a in prev_sets[p]:
            owner[a] = p  # previous rings should not overlap; if they do, the last id wins

    links: dict[tuple[str, int], int] = {}
    for i, members in enumerate(new_sets):
        counts: dict[str, int] = {}
        for a in members:
            was = owner.get(a)
            if was is not None:
                counts[was] = counts.get(was, 0) + 1
        for p, c in counts.items():
            small = min(len(prev_sets[p]), len(members))
            if c >= params.min_overlap and c >= params.containment * small:
                links[(p, i)] = c

    children: dict[str, list[int]] = {}
    parents: dict[int, list[str]] = {}
    for (p, i), _c in sorted(links.items()):
        children.setdefault(p, []).append(i)
        parents.setdefault(i, []).append(p)
    heir = {p: min(kids, key=lambda i: (-links[(p, i)], i)) for p, kids in children.items()}
    claims: dict[int, list[str]] = {}
    for p, i in heir.items():
        claims.setdefault(i, []).append(p)

    used = set(prev_ids)
    ids: list[str] = []
    events: list[dict[str, Any]] = []
    for i, members in enumerate(new_sets):
        if i in claims:
            keep = min(claims[i], key=lambda p: (-links[(p, i)], p))
            ids.append(keep)
            before = len(prev_sets[keep])
            if members != prev_sets[keep]:
                kind = (
                    "grown"
                    if len(members) > before
                    else ("shrunk" if len(members) < before else "changed")
                )
                events.append(
                    {
                        "event": kind,
                        "ring_id": keep,
                        "members_before": before,
                        "members_after": len(members),
                    }
                )
        else:
            salt = 0
            new_id = birth_id(sorted(members))
            while new_id in used:
                salt += 1
                new_id = birth_id(sorted(members), salt)
            ids.append(new_id)
            event: dict[str, Any] = {
                "event": "created",
                "ring_id": new_id,
                "members_after": len(members),
            }
            if i in parents:
                event["from"] = sorted(parents[i])
            events.append(event)
        used.add(ids[-1])

    for i, ps in parents.items():
        if len(ps) > 1:
            events.append(
                {"event": "merged", "ring_id": ids[i], "from": sorted(p for p in ps if p != ids[i])}
            )
    for p in prev_ids:
        kids = children.get(p, [])
        if len(kids) > 1:
            events.append({"event": "split", "ring_id": p, "into": sorted(ids[i] for i in kids)})
        if not kids:
            events.append({"event": "dissolved", "ring_id": p, "members_before": len(prev_sets[p])})
    events.sort(key=lambda e: (e["ring_id"], e["event"]))
    return RingIdentity(tuple(ids), tuple(events))
