"""Shadow ring verdicts, the pure half: which rings a candidate detection (other parameters or
another verdict model) would flag against the live run over the same snapshot.

Ring ids are not comparable between two runs (each carries over its own history), so rings are
paired by members: a candidate ring matches the live ring it shares the most members with, when
that is at least `min_overlap` of the smaller of the two (a ring that grew or shrank a little is
the same ring; one that split or merged pairs with its largest part).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ringwatch.vocabulary import FLAGGED_VERDICTS

FLAGGED: frozenset[str] = FLAGGED_VERDICTS


class RingLike(Protocol):
    @property
    def ring_id(self) -> str: ...

    @property
    def members(self) -> Sequence[str]: ...

    @property
    def verdict(self) -> str: ...


@dataclass(frozen=True)
class RingChange:
    ring_id: str  # the live ring's id for lost rings, the candidate's for gained ones
    verdict: str
    members: int
    paired_with: str | None = None  # the other side's ring, when paired but not flagged there


@dataclass
class RingComparison:
    live_flagged: int = 0
    candidate_flagged: int = 0
    both_flagged: int = 0
    verdict_changed: int = 0  # flagged by both, fraud on one side and suspicious on the other
    gained: list[RingChange] = field(default_factory=list)
    lost: list[RingChange] = field(default_factory=list)
    members_gained: int = 0  # accounts in a flagged candidate ring and in no flagged live one
    members_lost: int = 0
    member_agreement: float | None = None  # Jaccard of the two sets of flagged accounts

    @property
    def ring_agreement(self) -> float | None:
        union = self.live_flagged + self.candidate_flagged - self.both_flagged
        return round(self.both_flagged / union, 6) if union else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "live_flagged": self.live_flagged,
            "candidate_flagged": self.candidate_flagged,
            "both_flagged": self.both_flagged,
            "verdict_changed": self.verdict_changed,
            "ring_agreement": self.ring_agreement,
            "member_agreement": self.member_agreement,
            "members_gained": self.members_gained,
            "members_lost": self.members_lost,
            "rings_gained": [c.__dict__ for c in self.gained],
            "rings_lost": [c.__dict__ for c in self.lost],
        }


def _pairs(
    left: Sequence[RingLike], right: Sequence[RingLike], min_overlap: float
) -> dict[str, RingLike]:
    """Left ring id -> the right ring it overlaps most (ties: lowest right ring id)."""
    ring_of: dict[str, list[int]] = defaultdict(list)
    for j, ring in enumerate(right):
        for m in ring.members:
            ring_of[m].append(j)
    out: dict[str, RingLike] = {}
    for ring in left:
        shared: dict[int, int] = defaultdict(int)
        for m in ring.members:
            for j in ring_of.get(m, ()):
                shared[j] += 1
        if not shared:
            continue
        best = max(shared, key=lambda j: (shared[j], -j))
        smaller = min(len(ring.members), len(right[best].members))
        if smaller and shared[best] / smaller >= min_overlap:
            out[ring.ring_id] = right[best]
    return out


def compare_rings(
    live: Iterable[RingLike], candidate: Iterable[RingLike], *, min_overlap: float = 0.5
) -> RingComparison:
    live_rings = sorted(live, key=lambda r: r.ring_id)
    cand_rings = sorted(candidate, key=lambda r: r.ring_id)
    live_to_cand = _pairs(live_rings, cand_rings, min_overlap)
    cand_to_live = _pairs(cand_rings, live_rings, min_overlap)
    out = RingComparison()
    for ring in live_rings:
        if ring.verdict not in FLAGGED:
            continue
        out.live_flagged += 1
        other = live_to_cand.get(ring.ring_id)
        if other is not None and other.verdict in FLAGGED:
            out.both_flagged += 1
            out.verdict_changed += other.verdict != ring.verdict
        else:
            out.lost.append(RingChange(ring.ring_id, ring.verdict, len(ring.members),
                                       other.ring_id if other is not None else None))
    for ring in cand_rings:
        if ring.verdict not in FLAGGED:
            continue
        out.candidate_flagged += 1
        other = cand_to_live.get(ring.ring_id)
        if other is None or other.verdict not in FLAGGED:
            out.gained.append(RingChange(ring.ring_id, ring.verdict, len(ring.members),
                                         other.ring_id if other is not None else None))
    live_members = {m for r in live_rings if r.verdict in FLAGGED for m in r.members}
    cand_members = {m for r in cand_rings if r.verdict in FLAGGED for m in r.members}
    out.members_gained = len(cand_members - live_members)
    out.members_lost = len(live_members - cand_members)
    union = live_members | cand_members
    out.member_agreement = (
        round(len(live_members & cand_members) / len(union), 6) if union else None
    )
    return out
