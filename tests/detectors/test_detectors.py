"""Each detector on tiny hand-built snapshots with exact answers, plus determinism."""

from __future__ import annotations

import random

import numpy as np
import pytest
import scipy.sparse as sp

from ringwatch.detectors.behaviour import BehaviourParams, soft_links
from ringwatch.detectors.communities import leiden_cpm, projection
from ringwatch.detectors.evaders import match_evaders
from ringwatch.detectors.pipeline import affected_accounts, detect
from ringwatch.detectors.ring_ids import assign_ring_ids, birth_id
from ringwatch.detectors.snapshot import Snapshot, SnapshotBuilder
from ringwatch.detectors.strong import strong_components
from tests.detectors.builders import DAY, T0, everyday_likes, farm, rows


def family(builder: SnapshotBuilder, prefix: str, size: int = 4) -> list[str]:
    """A household: tablet + home IP, created years apart, different ages, one country."""
    ids = [f"{prefix}{i}" for i in range(size)]
    for i, a in enumerate(ids):
        builder.add_account(a, {
            "created_at": T0 - (3 - i) * 400 * DAY, "country": "GB",
            "birthdate": f"{1970 + 12 * i}-03-0{i + 1}",
        })
        builder.add_link(a, "device", f"{prefix}-tablet", 1, T0)
        builder.add_link(a, "ip", f"{prefix}-home", 1, T0)
        builder.add_link(a, "device", f"{prefix}-phone{i}", 1, T0)
    return ids


def nat_hub(builder: SnapshotBuilder, accounts: list[str], size: int = 400) -> None:
    """A carrier NAT IP and a shop's card reader shared by hundreds of ordinary users."""
    for i in range(size):
        a = f"z{i:04d}"
        builder.add_account(a, {"created_at": T0 - i * 3600})
        builder.add_link(a, "ip", "cgnat", 1, T0)
        builder.add_link(a, "device", "kiosk", 1, T0)
    for a in accounts:
        builder.add_link(a, "ip", "cgnat", 1, T0)
        builder.add_link(a, "device", "kiosk", 1, T0)


def world() -> tuple[Snapshot, list[str], list[str], list[str]]:
    b = SnapshotBuilder()
    ring_a = farm(b, "a", 8)
    ring_b = farm(b, "b", 5, T0 + 30 * DAY)
    fam = family(b, "f")
    nat_hub(b, ring_a[:2] + ring_b[:2] + fam[:2])
    return b.build(), ring_a, ring_b, fam


# -- strong components ------------------------------------------------------------------------
def test_strong_components_ignore_hubs() -> None:
    snap, ring_a, ring_b, fam = world()
    comps = strong_components(snap)
    groups = sorted(sorted(g.tolist()) for g in comps.members(min_size=2))
    assert groups == sorted([rows(snap, ring_a), rows(snap, ring_b), rows(snap, fam)])


def test_strong_components_reject_bad_input() -> None:
    with pytest.raises(ValueError):
        strong_components("not a snapshot")  # type: ignore[arg-type]
    snap, *_ = world()
    with pytest.raises(ValueError):
        strong_components(snap, kinds=("fingerprint",))
    with pytest.raises(ValueError):
        strong_components(snap, caps={"device": 1})


# -- projection and communities -------------------------------------------------------------
def test_projection_weights_and_hub_cap() -> None:
    b = SnapshotBuilder()
    for a in ("a", "b"):
        b.add_link(a, "device", "d", 1, 0)
        b.add_link(a, "ip", "home", 1, 0)
    for i in range(300):  # an IP above the cap adds nothing
        b.add_link(f"n{i:03d}", "ip", "nat", 1, 0)
    b.add_link("a", "ip", "nat", 1, 0)
    snap = b.build()
    proj = projection(snap)
    ia, ib = rows(snap, ["a", "b"])
    assert proj[ia, ib] == pytest.approx(1.5)
    assert proj.nnz == 2


def test_leiden_cpm_separates_two_cliques_joined_by_weak_edge() -> None:
    dense = np.zeros((8, 8))
    dense[:4, :4] = 1.0
    dense[4:, 4:] = 1.0
    dense[3, 4] = dense[4, 3] = 0.05
    np.fill_diagonal(dense, 0)
    part = leiden_cpm(sp.csr_matrix(dense), seed=3)
    assert part.labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]


# -- behaviour --------------------------------------------------------------------------------
def test_signup_burst_and_lockstep() -> None:
    b = SnapshotBuilder()
    for i in range(4):  # four signups in 20 minutes from one quiet subnet
        a = f"p{i}"
        b.add_account(a, {"created_at": T0 + 300 * i})
        b.add_link(a, "subnet", "203.0.113.0/24", 1, T0 + 300 * i)
    for i in range(3):  # three accounts liking the same two posts within minutes
        a = f"e{i}"
        b.add_account(a, {"created_at": T0 - 100 * DAY - i * 50 * DAY})
        for t in range(2):
            b.add_engagement(a, f"post{t}", "like", T0 + t * DAY + 30 * i)
    b.add_account("lone", {"created_at": T0 - 300 * DAY})
    b.add_engagement("lone", "post0", "like", T0 + 5 * DAY)
    everyday_likes(b)
    snap = b.build()
    soft = soft_links(snap)
    burst_pairs = {tuple(sorted(p)) for p in zip(*soft.burst.nonzero(), strict=True)}
    assert burst_pairs == {(i, j) for i in rows(snap, ["p0", "p1", "p2", "p3"])
                           for j in rows(snap, ["p0", "p1", "p2", "p3"]) if i < j}
    lock = soft.lockstep.toarray()
    e = rows(snap, ["e0", "e1", "e2"])
    assert all(lock[i, j] == pytest.approx(0.5) for i in e for j in e if i != j)
    assert lock.astype(bool).sum() == 6


def test_lockstep_on_popular_posts_is_chance_on_obscure_ones_is_not() -> None:
    """Three hundred people like the day's two trending posts, one a minute, so neighbours in
    the queue meet within minutes on both; two farm accounts like a shop's two posts nobody
    else sees. Only the farm pair is lockstep."""
    b = SnapshotBuilder()
    crowd = [f"fan{i:03d}" for i in range(300)]
    for i, a in enumerate(crowd):
        b.add_account(a, {"created_at": T0 - 200 * DAY})
        b.add_engagement(a, "trend0", "like", T0 + 60 * i)
        b.add_engagement(a, "trend1", "like", T0 + DAY + 60 * i)
        b.add_engagement(a, f"own{i:03d}", "like", T0 + 2 * DAY + 3600 * i)
    for i, a in enumerate(["f0", "f1"]):
        b.add_account(a, {"created_at": T0 - 10 * DAY})
        for t in range(2):
            b.add_engagement(a, f"shop{t}", "like", T0 + 3 * DAY + t * DAY + 45 * i)
    snap = b.build()
    lock = soft_links(snap).lockstep
    assert {tuple(p) for p in zip(*sp.triu(lock).nonzero(), strict=True)} == {
        tuple(rows(snap, ["f0", "f1"]))
    }


def test_behaviour_rejects_bad_params() -> None:
    snap, *_ = world()
    with pytest.raises(ValueError):
        soft_links(snap, BehaviourParams(burst_min=1))


# -- evaders ------------------------------------------------------------------------------------
def test_evader_matched_by_kept_card_and_birthdate_typo_not_by_family_tablet() -> None:
    b = SnapshotBuilder()
    sketch = list(range(1, 33))
    b.add_account("old", {"created_at": T0, "banned_at": T0 + DAY, "birthdate": "1990-04-07",
                          "name_sketch": sketch})
    b.add_link("old", "card", "c1", 1, T0)
    b.add_link("old", "device", "tablet", 1, T0)
    typo = sketch[:24] + list(range(100, 108))
    b.add_account("new", {"created_at": T0 + 5 * DAY, "birthdate": "1990-07-04",
                          "name_sketch": typo})
    b.add_link("new", "card", "c1", 1, T0 + 5 * DAY)
    b.add_account("mother", {"created_at": T0 - 900 * DAY, "birthdate": "1961-05-05"})
    b.add_link("mother", "device", "tablet", 1, T0 - 900 * DAY)
    b.add_account("sister", {"created_at": T0 + 9 * DAY, "birthdate": "1996-01-01"})
    b.add_link("sister", "device", "tablet", 1, T0 + 9 * DAY)
    b.add_account("before", {"created_at": T0 - DAY, "name_sketch": sketch})
    snap = b.build()
    m = match_evaders(snap)
    got = [(str(snap.accounts[q]), str(snap.accounts[bb])) for q, bb in
           zip(m.query, m.banned, strict=True)]
    assert got == [("new", "old")]
    ev = m.evidence(snap, 0)
    assert ev["identifiers"] == [{"kind": "card", "key": "c1"}]
    assert ev["birthdate"] == "typo"
    assert ev["name_similarity"] == pytest.approx(0.75)


# -- ring ids -----------------------------------------------------------------------------------
def test_ring_ids_growth_merge_split_dissolve() -> None:
    r1 = ["a", "b", "c", "d"]
    r2 = ["x", "y", "z"]
    first = assign_ring_ids([r1, r2])
    assert first.ids == (birth_id(r1), birth_id(r2))
    prev = dict(zip(first.ids, [r1, r2], strict=True))

    grown = assign_ring_ids([[*r1, "e", "f"], r2], prev)
    assert grown.ids == first.ids
    assert [e["event"] for e in grown.history] == ["grown"]

    merged = assign_ring_ids([r1 + r2], prev)
    assert merged.ids == (first.ids[0],)
    assert {"event": "merged", "ring_id": first.ids[0], "from": [first.ids[1]]} in merged.history

    split = assign_ring_ids([["a", "b", "c"], ["d", "q", "r"]], {first.ids[0]: [*r1, "q", "r"]})
    assert split.ids[0] == first.ids[0]
    assert any(e["event"] == "split" and e["into"] == sorted(split.ids) for e in split.history)

    gone = assign_ring_ids([], prev)
    assert sorted(e["event"] for e in gone.history) == ["dissolved", "dissolved"]
    assert assign_ring_ids([r1, r2]) == first  # same input, same output


# -- the pipeline -----------------------------------------------------------------------------
def test_detect_finds_rings_clears_family_and_ignores_hubs() -> None:
    snap, ring_a, ring_b, fam = world()
    result = detect(snap, seed=7)
    by_members = {r.members: r for r in result.rings}
    assert by_members[tuple(sorted(ring_a))].verdict == "fraud"
    assert by_members[tuple(sorted(ring_b))].verdict == "fraud"
    fam_ring = by_members.get(tuple(sorted(fam)))
    assert fam_ring is None or fam_ring.verdict == "benign"
    assert not any(a.startswith("z") for r in result.rings for a in r.members)
    ev = by_members[tuple(sorted(ring_a))].evidence
    assert {"kind": "device", "key": "a-emu", "members": 8} in ev["shared_identifiers"]
    assert min(result.risk) >= 0.0 and max(result.risk) <= 1.0


def test_detect_is_deterministic_and_insertion_order_free() -> None:
    snap, *_ = world()
    first = detect(snap, seed=11)
    assert detect(snap, seed=11) == first

    # Same graph, links added in another order: identical result.
    b = SnapshotBuilder()
    calls: list[tuple[str, tuple[object, ...]]] = []
    for i in range(snap.n_accounts):
        calls.append(("acc", (str(snap.accounts[i]), {"created_at": int(snap.created_at[i]),
                                                      "country": snap.country[i],
                                                      "birthdate": snap.birthdate[i]})))
    coo = snap.links.tocoo()
    for r, c in zip(coo.row, coo.col, strict=True):
        kind = ("device", "ip", "subnet", "email", "email_domain", "phone", "card")[
            int(snap.identifier_kind[c])]
        calls.append(("link", (str(snap.accounts[r]), kind, str(snap.identifiers[c]))))
    random.Random(5).shuffle(calls)
    accs = [c for c in calls if c[0] == "acc"]
    for _, args in accs:
        b.add_account(*args)  # type: ignore[arg-type]
    for kind, args in calls:
        if kind == "link":
            b.add_link(*args, 1, T0)  # type: ignore[arg-type, misc]
    again = detect(b.build(), seed=11)
    assert _same(again, first)


def _same(x: object, y: object) -> bool:
    from ringwatch.detectors.pipeline import DetectionResult

    assert isinstance(x, DetectionResult) and isinstance(y, DetectionResult)
    return (
        [(r.ring_id, r.members, r.verdict, r.score) for r in x.rings]
        == [(r.ring_id, r.members, r.verdict, r.score) for r in y.rings]
        and x.risk.tolist() == y.risk.tolist()
    )


def test_detect_keeps_ids_when_ring_grows() -> None:
    snap, ring_a, *_ = world()
    first = detect(snap, seed=1)
    prev = {r.ring_id: list(r.members) for r in first.rings}
    b = SnapshotBuilder()
    farm(b, "a", 11)  # three more accounts on the same emulator
    farm(b, "b", 5, T0 + 30 * DAY)
    family(b, "f")
    second = detect(b.build(), prev, seed=1)
    old = next(r.ring_id for r in first.rings if r.members == tuple(sorted(ring_a)))
    new = next(r for r in second.rings if "a10" in r.members)
    assert new.ring_id == old
    assert new.history[0]["event"] == "grown"


def test_affected_accounts_is_the_component() -> None:
    snap, ring_a, ring_b, _fam = world()
    got = affected_accounts(snap, ["a03"])
    assert set(ring_a) <= got
    assert not set(ring_b) & got
    with pytest.raises(ValueError):
        affected_accounts(snap, "a03")
