"""Friendship is benign life: a generated friend graph (networkx) with a cohort that joined
together from one network (a campus on launch day) yields no fraud ring. The cohort did sign
up in one burst from one subnet, which is what scripted registration looks like too; what a
script does not produce is hundreds of people each befriended by others outside the group."""

from __future__ import annotations

import networkx as nx
import numpy as np

from ringwatch.detectors.pipeline import detect
from ringwatch.detectors.snapshot import Snapshot, SnapshotBuilder
from ringwatch.detectors.verdicts import FRAUD

T0 = 1_735_689_600  # 2025-01-01
DAY = 86400


def _account(b: SnapshotBuilder, acc: str, ts: int, ip: str, subnet: str, birth: str) -> None:
    b.add_account(acc, {"created_at": ts, "country": "GB", "birthdate": birth})
    b.add_link(acc, "device", f"phone-{acc}", 5, ts)
    b.add_link(acc, "ip", ip, 5, ts)
    b.add_link(acc, "subnet", subnet, 5, ts)


def _world(
    n: int = 2400,
    cohort: int = 360,
    seed: int = 11,
    friends: bool = True,
    students_go_home: bool = False,
) -> tuple[Snapshot, list[str]]:
    """`n` people over a year at their homes (a few per home, homes spread over many /24s),
    of whom `cohort` students joined within six hours of the launch from the campus network
    (a few dozen NAT addresses in one /24), and a preferential-attachment friend graph over
    everybody, as on a real social network. With `students_go_home` the students are seen at
    their families' homes too; without it the campus is all that is known of them."""
    rng = np.random.default_rng(seed)
    b = SnapshotBuilder()
    names = [f"u{i:05d}" for i in range(n)]
    students = set(rng.choice(n, cohort, replace=False).tolist())
    for i, acc in enumerate(names):
        birth = f"{int(rng.integers(1950, 2006))}-0{1 + i % 9}-1{i % 9}"
        if i in students:
            ts = T0 + 100 * DAY + int(rng.integers(0, 6 * 3600))
            ip = f"192.0.2.{int(rng.integers(1, 40))}"
            _account(b, acc, ts, ip, "192.0.2.0/24", f"200{int(rng.integers(3, 7))}-05-1{i % 9}")
            if students_go_home:  # to their families' homes, over the holidays
                home = n + i
                b.add_link(acc, "ip", f"10.{home // 200}.{home % 200}.9", 2, ts + 30 * DAY)
                b.add_link(acc, "subnet", f"10.{home // 200}.{home % 200}.0/24", 2, ts + 30 * DAY)
        else:
            home = i // 3
            ts = T0 + int(rng.integers(0, 365 * DAY))
            ip = f"10.{home // 200}.{home % 200}.9"
            _account(b, acc, ts, ip, f"10.{home // 200}.{home % 200}.0/24", birth)
    if friends:
        graph = nx.barabasi_albert_graph(n, 6, seed=seed)
        for x, y in graph.edges():
            b.add_relation(names[x], names[y], "friend")
    return b.build(), [names[i] for i in sorted(students)]


def test_a_benign_friend_graph_yields_no_fraud_ring() -> None:
    snapshot, cohort = _world()
    result = detect(snapshot, seed=1)
    fraud = [r for r in result.rings if r.verdict == FRAUD]
    assert fraud == [], [(len(r.members), r.evidence["link_types"]) for r in fraud]
    # Flagged at all (suspicious) would still send hundreds of students to review.
    flagged = [r for r in result.rings if r.verdict != "benign" and set(cohort) & set(r.members)]
    assert flagged == []


def test_the_same_burst_without_a_social_life_is_still_flagged() -> None:
    """Without friendships outside the group, the burst is what it looks like: accounts
    registered together from one network and nothing else known about them."""
    snapshot, cohort = _world(friends=False)
    result = detect(snapshot, seed=1)
    flagged = [r for r in result.rings if r.verdict != "benign" and set(cohort) & set(r.members)]
    assert flagged and sum(len(set(cohort) & set(r.members)) for r in flagged) >= len(cohort) // 2


def test_the_same_burst_whose_members_go_home_is_a_crowd() -> None:
    """Without friendships, but seen at their families' homes: a crowd that signed up through
    the campus's busy network, not personas living on it (behaviour.signup_bursts)."""
    snapshot, cohort = _world(friends=False, students_go_home=True)
    result = detect(snapshot, seed=1)
    flagged = [r for r in result.rings if r.verdict != "benign" and set(cohort) & set(r.members)]
    assert flagged == [], [(len(r.members), r.evidence["link_types"]) for r in flagged]
