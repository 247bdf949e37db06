"""Trust propagation: AUC on generated social graphs with a Sybil region, and hand-built cases."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from ringwatch.detectors.snapshot import SnapshotBuilder
from ringwatch.detectors.trust import (
    TrustParams,
    adjacency,
    sybil_scores,
    sybilrank,
    sybilscar,
)


def _sybil_world(
    n_benign: int, n_sybil: int, attack_edges: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Benign Barabasi-Albert region, a denser Sybil region (they befriend each other for
    free), `attack_edges` random edges between the two. Returns (src, dst, is_sybil)."""
    rng = np.random.default_rng(seed)
    benign = nx.barabasi_albert_graph(n_benign, 5, seed=seed)
    sybil = nx.powerlaw_cluster_graph(n_sybil, 8, 0.3, seed=seed + 1)
    edges = [(u, v) for u, v in benign.edges()]
    edges += [(n_benign + u, n_benign + v) for u, v in sybil.edges()]
    for _ in range(attack_edges):
        edges.append((int(rng.integers(n_benign)), n_benign + int(rng.integers(n_sybil))))
    arr = np.array(edges, dtype=np.int64)
    is_sybil = np.r_[np.zeros(n_benign, bool), np.ones(n_sybil, bool)]
    return arr[:, 0], arr[:, 1], is_sybil


def _seeds(is_sybil: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sybils = rng.choice(np.flatnonzero(is_sybil), k, replace=False)
    benign = rng.choice(np.flatnonzero(~is_sybil), k, replace=False)
    return sybils, benign


def _auc_unlabelled(score: np.ndarray, is_sybil: np.ndarray, *seed_sets: np.ndarray) -> float:
    mask = np.ones(is_sybil.shape[0], bool)
    for s in seed_sets:
        mask[s] = False
    return float(roc_auc_score(is_sybil[mask], score[mask]))


@pytest.mark.parametrize("attack_edges", [100, 500])
def test_sybilscar_separates_sybil_region(attack_edges: int) -> None:
    src, dst, is_sybil = _sybil_world(3000, 1000, attack_edges, seed=7)
    adj = adjacency(src, dst, is_sybil.shape[0])
    sybils, benign = _seeds(is_sybil, 50, seed=3)
    p = sybilscar(adj, sybils, benign)
    assert p.min() >= 0 and p.max() <= 1
    assert _auc_unlabelled(p, is_sybil, sybils, benign) >= 0.95


def test_sybilscar_with_bans_only_still_ranks_sybils_first() -> None:
    # A platform that has banned some fakes but verifies nobody.
    src, dst, is_sybil = _sybil_world(3000, 1000, 100, seed=11)
    adj = adjacency(src, dst, is_sybil.shape[0])
    sybils, _ = _seeds(is_sybil, 50, seed=5)
    p = sybilscar(adj, sybils)
    assert _auc_unlabelled(p, is_sybil, sybils) >= 0.95


def test_sybilrank_separates_sybil_region() -> None:
    src, dst, is_sybil = _sybil_world(3000, 1000, 100, seed=13)
    adj = adjacency(src, dst, is_sybil.shape[0])
    _, benign = _seeds(is_sybil, 50, seed=9)
    trust = sybilrank(adj, benign)
    assert _auc_unlabelled(-trust, is_sybil, benign) >= 0.95


def test_more_attack_edges_blur_the_cut() -> None:
    # The mechanism the method rests on: the fewer attack edges, the cleaner the separation.
    aucs = []
    for k in (50, 4000):
        src, dst, is_sybil = _sybil_world(2000, 500, k, seed=17)
        sybils, benign = _seeds(is_sybil, 30, seed=1)
        p = sybilscar(adjacency(src, dst, is_sybil.shape[0]), sybils, benign)
        aucs.append(_auc_unlabelled(p, is_sybil, sybils, benign))
    assert aucs[0] > aucs[1]


def test_isolated_account_keeps_prior_and_sybil_neighbour_scores_high() -> None:
    # 0,1,2: banned fakes befriending each other; 3 is friends only with them; 4 has no
    # relations; 5-6-7: verified and friends.
    src = np.array([0, 1, 0, 3, 3, 5, 6])
    dst = np.array([1, 2, 2, 0, 1, 6, 7])
    adj = adjacency(src, dst, 8)
    p = sybilscar(adj, np.array([0, 1, 2]), np.array([5, 7]))
    assert p[4] == pytest.approx(0.5)
    assert p[3] >= 0.8
    assert p[6] <= 0.2
    assert p[0] >= p[3] > p[4] > p[6]


def test_ban_wins_over_verify_and_deterministic() -> None:
    src, dst, is_sybil = _sybil_world(500, 200, 20, seed=2)
    adj = adjacency(src, dst, is_sybil.shape[0])
    p1 = sybilscar(adj, np.array([0]), np.array([0, 1]))
    p2 = sybilscar(adj, np.array([0]), np.array([0, 1]))
    assert p1[0] > 0.5
    np.testing.assert_array_equal(p1, p2)


def test_params_are_checked() -> None:
    adj = adjacency(np.array([0]), np.array([1]), 2)
    with pytest.raises(ValueError):
        sybilscar(adj, np.array([0]), params=TrustParams(theta=0.9))


def test_sybil_scores_from_snapshot_uses_bans_verifies_and_ignores_blocks() -> None:
    b = SnapshotBuilder()
    ms = 1_000_000_000_000
    recs = []

    def rel(a: str, o: str, kind: str) -> None:
        recs.append({"t": "relation", "a": a, "other": o, "kind": kind, "ts": ms, "ids": []})

    for a, o in [("s1", "s2"), ("s2", "s3"), ("s1", "s3"), ("x", "s1"), ("x", "s2")]:
        rel(a, o, "friend")
    rel("h1", "h2", "follow")
    rel("h2", "h3", "invite")
    rel("y", "s1", "block")  # blocking a fake is no friendship with it
    for a in ("s1", "s2", "s3"):
        recs.append({"t": "enforcement", "a": a, "action": "ban", "ts": ms + 1, "ids": []})
    recs.append({"t": "enforcement", "a": "h1", "action": "verify", "ts": ms + 1, "ids": []})
    b.add_records(recs)
    snap = b.build()
    score = dict(zip(snap.accounts.tolist(), sybil_scores(snap).tolist(), strict=True))
    assert score["x"] >= 0.8
    assert score["y"] == pytest.approx(0.5)
    assert score["h2"] < 0.5 and score["h3"] < 0.5


def test_review_labels_are_seeds_beside_bans_and_verifies() -> None:
    b = SnapshotBuilder()
    ms = 1_000_000_000_000
    recs = []
    for a, o in [("f1", "f2"), ("l1", "l2")]:
        recs.append({"t": "relation", "a": a, "other": o, "kind": "friend", "ts": ms, "ids": []})
    b.add_records(recs)
    snap = b.build()
    row = {a: i for i, a in enumerate(snap.accounts.tolist())}
    plain = sybil_scores(snap)
    assert np.allclose(plain, 0.5)  # no ban, no verify: nothing is known
    fraud = np.zeros(snap.n_accounts, dtype=bool)
    legit = np.zeros(snap.n_accounts, dtype=bool)
    fraud[row["f1"]] = True
    legit[row["l1"]] = True
    # Distrust wins on an account labelled both ways, as a ban wins over a stale verify.
    legit[row["f1"]] = True
    score = sybil_scores(snap, distrusted=fraud, trusted=legit)
    assert score[row["f1"]] > 0.5 and score[row["f2"]] > 0.5
    assert score[row["l1"]] < 0.5 and score[row["l2"]] < 0.5
