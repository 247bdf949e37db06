"""Shadow ring comparison: rings paired by members, gained and lost counted both ways."""

from __future__ import annotations

from dataclasses import dataclass

from ringwatch.detectors.shadow import compare_rings


@dataclass(frozen=True)
class R:
    ring_id: str
    members: tuple[str, ...]
    verdict: str


def ring(ring_id: str, verdict: str, *members: str) -> R:
    return R(ring_id, tuple(members), verdict)


def test_identical_runs_agree() -> None:
    rings = [ring("a", "fraud", "1", "2", "3"), ring("b", "benign", "4", "5", "6")]
    c = compare_rings(rings, rings)
    assert (c.live_flagged, c.candidate_flagged, c.both_flagged) == (1, 1, 1)
    assert (c.ring_agreement, c.member_agreement) == (1.0, 1.0)
    assert not c.gained and not c.lost and c.members_gained == c.members_lost == 0


def test_gained_lost_and_changed() -> None:
    live = [
        ring("L1", "fraud", "a1", "a2", "a3", "a4"),  # candidate keeps it, one member fewer
        ring("L2", "suspicious", "b1", "b2", "b3"),  # candidate clears it: lost
        ring("L3", "benign", "c1", "c2", "c3"),  # candidate flags it: gained
        ring("L4", "fraud", "d1", "d2", "d3"),  # candidate calls it suspicious
    ]
    candidate = [
        ring("C1", "fraud", "a1", "a2", "a3"),
        ring("C2", "benign", "b1", "b2", "b3"),
        ring("C3", "fraud", "c1", "c2", "c3", "c4"),
        ring("C4", "suspicious", "d1", "d2", "d3"),
        ring("C5", "fraud", "e1", "e2", "e3"),  # nothing like it live: gained
    ]
    c = compare_rings(live, candidate)
    assert (c.live_flagged, c.candidate_flagged, c.both_flagged) == (3, 4, 2)
    assert c.verdict_changed == 1
    assert [(g.ring_id, g.paired_with) for g in c.gained] == [("C3", "L3"), ("C5", None)]
    assert [(lost.ring_id, lost.paired_with) for lost in c.lost] == [("L2", "C2")]
    # flagged live: a1-a4, b1-b3, d1-d3 (10); candidate: a1-a3, c1-c4, d1-d3, e1-e3 (13)
    assert (c.members_lost, c.members_gained) == (4, 7)
    assert c.member_agreement == round(6 / 17, 6)
    assert c.ring_agreement == round(2 / 5, 6)
    assert c.to_dict()["rings_gained"][1]["members"] == 3


def test_small_overlap_does_not_pair() -> None:
    live = [ring("L", "fraud", *(f"m{i}" for i in range(10)))]
    candidate = [ring("C", "fraud", "m0", "x1", "x2", "x3")]  # 1 of 4 shared: a different ring
    c = compare_rings(live, candidate)
    assert c.both_flagged == 0 and len(c.gained) == 1 and len(c.lost) == 1
