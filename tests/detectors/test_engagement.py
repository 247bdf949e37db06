"""Engagement rings: Fraudar on injected dense blocks (with camouflage), SynchroTrap on
planted synchronized actions."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from ringwatch.detectors.engagement import (
    FraudarParams,
    SyncParams,
    engagement_rings,
    expected_lift,
    fraudar,
    log_weights,
    naive_peel,
    peel,
    synchrotrap,
)
from ringwatch.detectors.snapshot import SnapshotBuilder


def _injected(
    seed: int, camouflage: str = "none", n: int = 500, k: int = 20, p_bg: float = 0.01
) -> sp.csr_matrix:
    """The paper's example: a k x k fully dense block (rows/cols 0..k-1 after a permutation is
    not needed: peeling is order-free) in an n x n random matrix of density p_bg. Camouflage:
    each fraud row also engages as many other targets as it has fraud edges, chosen uniformly
    ("random") or by popularity ("popular")."""
    rng = np.random.default_rng(seed)
    m = (rng.random((n, n)) < p_bg).astype(float)
    m[:k, :k] = 1.0
    if camouflage != "none":
        popularity = m[k:].sum(axis=0) + 1.0
        for r in range(k):
            if camouflage == "random":
                cols = rng.choice(np.arange(k, n), k, replace=False)
            else:
                prob = popularity[k:] ** 2 / (popularity[k:] ** 2).sum()
                cols = rng.choice(np.arange(k, n), k, replace=False, p=prob)
            m[r, cols] = 1.0
    return sp.csr_matrix(m)


def _precision_recall(found: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    hit = np.intersect1d(found, truth).shape[0]
    return hit / max(found.shape[0], 1), hit / truth.shape[0]


@pytest.mark.parametrize("camouflage", ["none", "random", "popular"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fraudar_finds_injected_block(camouflage: str, seed: int) -> None:
    m = _injected(seed, camouflage)
    blocks = fraudar(m, FraudarParams(max_blocks=1))
    assert blocks, "no block found"
    truth = np.arange(20)
    p_rows, r_rows = _precision_recall(blocks[0].rows, truth)
    p_cols, r_cols = _precision_recall(blocks[0].cols, truth)
    assert p_rows >= 0.9 and r_rows >= 0.9
    assert p_cols >= 0.9 and r_cols >= 0.9


def test_random_matrix_has_no_block() -> None:
    rng = np.random.default_rng(4)
    m = sp.csr_matrix((rng.random((500, 500)) < 0.01).astype(float))
    assert fraudar(m) == []


def test_heap_peel_equals_naive_peel() -> None:
    for seed in range(3):
        w = log_weights(_injected(seed, "random", n=60, k=6, p_bg=0.05))
        fast, slow = peel(w), naive_peel(w)
        assert fast.density == pytest.approx(slow.density)
        np.testing.assert_array_equal(fast.rows, slow.rows)
        np.testing.assert_array_equal(fast.cols, slow.cols)


def test_log_weighting_discounts_popular_targets() -> None:
    # 30 accounts all liking one viral post, 6 accounts liking the same 6 small shops.
    rows, cols = [], []
    for a in range(30):
        rows.append(a)
        cols.append(0)
    for a in range(30, 36):
        for t in range(1, 7):
            rows.append(a)
            cols.append(t)
    m = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(36, 7))
    block = peel(log_weights(m))
    assert set(block.rows.tolist()) == set(range(30, 36))
    assert set(block.cols.tolist()) == set(range(1, 7))


def test_two_blocks_found_in_turn() -> None:
    rng = np.random.default_rng(8)
    m = (rng.random((400, 400)) < 0.01).astype(float)
    m[:15, :15] = 1.0
    m[100:130, 200:210] = 1.0
    blocks = fraudar(sp.csr_matrix(m), FraudarParams(max_blocks=4))
    found = [set(b.rows.tolist()) for b in blocks]
    assert any(len(f & set(range(15))) >= 14 for f in found)
    assert any(len(f & set(range(100, 130))) >= 28 for f in found)


def _sync_actions(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """1000 benign accounts acting at random times on 2000 targets (popular ones more often);
    a farm of 25 accounts hitting the same 10 targets, each within the same hour, over days,
    plus benign-looking camouflage. Returns (account, target, ts, farm rows)."""
    rng = np.random.default_rng(seed)
    acc, tgt, ts = [], [], []
    weight = 1.0 / np.arange(1, 2001)
    weight /= weight.sum()
    for a in range(1000):
        k = int(rng.integers(5, 40))
        acc += [a] * k
        tgt += rng.choice(2000, k, p=weight).tolist()
        ts += rng.integers(0, 30 * 86400, k).tolist()
    farm = np.arange(1000, 1025)
    for job in range(10):
        start = int(rng.integers(0, 29 * 86400)) // 3600 * 3600
        target = 2000 + job
        for a in farm.tolist():
            if rng.random() < 0.9:  # not every worker shows up for every job
                acc.append(a)
                tgt.append(target)
                ts.append(start + int(rng.integers(0, 3000)))
    for a in farm.tolist():
        k = 10
        acc += [a] * k
        tgt += rng.choice(2000, k, p=weight).tolist()
        ts += rng.integers(0, 30 * 86400, k).tolist()
    return np.array(acc), np.array(tgt), np.array(ts), farm


@pytest.mark.parametrize("seed", [0, 1])
def test_synchrotrap_finds_planted_lockstep(seed: int) -> None:
    acc, tgt, ts, farm = _sync_actions(seed)
    clusters = synchrotrap(acc, tgt, ts, 1025, SyncParams())
    assert clusters
    flagged = np.concatenate(clusters)
    precision, recall = _precision_recall(flagged, farm)
    assert precision >= 0.95 and recall >= 0.8


def test_synchrotrap_same_targets_at_different_times_is_not_lockstep() -> None:
    # Fans of the same 10 shops, each visiting on their own day: no shared buckets.
    acc, tgt, ts = [], [], []
    for a in range(30):
        for t in range(10):
            acc.append(a)
            tgt.append(t)
            ts.append(a * 86400 + t * 7200)
    assert synchrotrap(np.array(acc), np.array(tgt), np.array(ts), 30) == []


def test_engagement_rings_from_snapshot_carry_targets() -> None:
    b = SnapshotBuilder()
    base = 1_700_000_000
    rng = np.random.default_rng(0)
    for a in range(200):
        for t in rng.choice(300, 3, replace=False).tolist():
            b.add_engagement(f"u{a:03d}", f"t{t:03d}", "like", base + int(rng.integers(0, 10**6)))
    for a in range(12):
        for t in range(8):
            b.add_engagement(f"f{a:02d}", f"shop{t}", "review", base + t * 86400 + a * 60)
    snap = b.build()
    rings = engagement_rings(snap)
    farm = {f"f{a:02d}" for a in range(12)}
    methods = {r.method for r in rings}
    assert methods == {"fraudar", "synchrotrap"}
    for r in rings:
        members = {str(x) for x in snap.accounts[r.rows]}
        assert members <= farm and len(members) >= 10
        assert {str(t) for t in snap.engage_targets[r.targets]} == {f"shop{t}" for t in range(8)}


def _heavy_users_and_a_farm(seed: int) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """3,000 light users (1-3 targets each) and 80 heavy genuine users (25-45 targets each),
    both choosing targets by Zipf popularity; a farm of 15 accounts pushing the 10 least popular
    targets (each worker on ~90% of them) with 10 popularity-chosen targets each as camouflage.
    Returns (matrix, heavy rows, farm rows)."""
    rng = np.random.default_rng(seed)
    n_light, n_heavy, n_farm, n_targets = 3000, 80, 15, 400
    pop = 1.0 / np.arange(1, n_targets + 1) ** 1.1
    pop /= pop.sum()
    rows: list[int] = []
    cols: list[int] = []
    for a in range(n_light + n_heavy):
        k = int(rng.integers(1, 4) if a < n_light else rng.integers(25, 45))
        rows += [a] * k
        cols += rng.choice(n_targets, k, replace=False, p=pop).tolist()
    farm = np.arange(n_light + n_heavy, n_light + n_heavy + n_farm)
    shops = np.arange(n_targets - 10, n_targets)
    for a in farm.tolist():
        pushed = shops[rng.random(10) < 0.9]
        camouflage = rng.choice(n_targets, 10, replace=False, p=pop)
        rows += [a] * (len(pushed) + 10)
        cols += pushed.tolist() + camouflage.tolist()
    m = sp.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(n_light + n_heavy + n_farm, n_targets)
    )
    m.sum_duplicates()
    m.data[:] = 1.0
    return m, np.arange(n_light, n_light + n_heavy), farm


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_heavy_users_on_popular_targets_are_no_ring_a_farm_on_small_targets_is(seed: int) -> None:
    # The densest block by Fraudar's measure is the heavy users with the farm inside it (the
    # farm's camouflage is on the same popular targets): its edges are what its members' and
    # targets' degrees predict, so it is no ring, and the farm is found on the shops it pushed.
    m, heavy, farm = _heavy_users_and_a_farm(seed)
    blocks = fraudar(m)
    flagged = np.unique(np.concatenate([b.rows for b in blocks])) if blocks else farm[:0]
    assert np.intersect1d(flagged, heavy).shape[0] == 0
    precision, recall = _precision_recall(flagged, farm)
    assert precision >= 0.9 and recall >= 0.9
    assert all(b.lift is not None and b.lift >= FraudarParams().min_expected_lift for b in blocks)
    # Judging blocks by expectation changes nothing the weighted-core pruning may drop.
    reference = fraudar(m, prune=False)
    assert [(b.rows.tolist(), b.cols.tolist()) for b in blocks] == [
        (b.rows.tolist(), b.cols.tolist()) for b in reference
    ]


def test_expected_lift_is_one_where_degrees_explain_the_block() -> None:
    # Every account engages every target: any block is exactly as dense as the degrees say.
    full = sp.csr_matrix(np.ones((30, 12)))
    assert expected_lift(full, np.arange(10), np.arange(5)) == pytest.approx(1.0)
    # The paper's planted block stands far above its degrees; a random block of the same matrix
    # does not.
    m = _injected(0, "none")
    assert expected_lift(m, np.arange(20), np.arange(20)) > 4.0
    rng = np.random.default_rng(0)
    rows = rng.choice(np.arange(20, 500), 40, replace=False)
    cols = rng.choice(np.arange(20, 500), 40, replace=False)
    assert expected_lift(m, rows, cols) < 2.0


def test_overlaps_evidence_equals_one_intersection_per_pair() -> None:
    """The one-product version gives, group by group, what `overlap_evidence` gives."""
    from ringwatch.detectors.engagement import (
        engagement_rings,
        overlap_evidence,
        overlaps_evidence,
    )
    from ringwatch.detectors.pipeline import detect
    from tests.detectors.worlds import cached_world

    snap, _ = cached_world(1, 20_000, "default")
    pushed = engagement_rings(snap)
    result = detect(snap, seed=1)
    groups = [np.flatnonzero(result.ring_of == r) for r in range(len(result.rings))]
    groups += [np.array([], dtype=np.int64)]
    got = overlaps_evidence(snap, groups, pushed)
    expected = [overlap_evidence(snap, np.sort(g), pushed) for g in groups]
    assert got == expected
    assert sum(1 for e in expected if e) >= 3  # some identity rings overlap engagement rings
    assert overlaps_evidence(snap, groups, []) == [[] for _ in groups]
