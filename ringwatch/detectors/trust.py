"""Trust propagation over account relations: SybilSCAR and SybilRank over scipy.sparse.

Why relations carry risk: fake accounts find it cheap to befriend each other and expensive to
get real people to befriend them, so a Sybil region is joined to the honest one by few "attack
edges" (Yu et al., SybilGuard). Anything that spreads from labelled accounts along relations
then stays mostly on its own side of that cut.

- `sybilscar`: SybilSCAR's local rule (Wang, Zhang, Gong, Liu, Wang: "SybilSCAR: Sybil detection
  in online social networks via local rule based propagation", INFOCOM 2017), degree-normalised
  variant (SybilSCAR-D). Residual form: q̂ = q - 1/2 (the prior), p̂ = p - 1/2,

      p̂_u <- q̂_u + strength * (1/d_u) * sum_{v ~ u} p̂_v,

  kept in [-1/2, 1/2] and iterated until the largest change is below `tol` (or `max_iter`).
  Labelled Sybils (bans) start at 1/2 + theta, labelled benign (verifies) at 1/2 - theta,
  everyone else at the neutral 1/2, so an account with no relations keeps its prior.
- `sybilrank`: SybilRank (Cao, Sirivianos, Yang, Pregueiro: "Aiding the detection of fake
  accounts in large scale social online services", NSDI 2012): trust starts on verified seeds
  and is spread by ceil(log2 n) power-iteration steps of T <- A D^-1 T (early termination: the
  walk has mixed inside the honest region but not yet across the few attack edges); accounts
  are ranked by degree-normalised trust T_u / d_u.

Both are deterministic (no sampling) and cost one sparse mat-vec per iteration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ringwatch.detectors.snapshot import RELATION_KINDS, Snapshot

# "block" says the opposite of trust; it must not carry homophily.
TRUST_RELATIONS: tuple[str, ...] = ("friend", "follow", "invite")


@dataclass(frozen=True)
class TrustParams:
    """theta: how far a label moves the prior from 1/2 (SybilSCAR uses 0.4).
    strength: weight of the neighbours' mean (1.0 is SybilSCAR-D; below 1 damps it).
    max_iter / tol: SybilSCAR stops when no score moves by more than tol.
    relations: relation kinds used as undirected, unweighted edges.
    """

    theta: float = 0.4
    strength: float = 1.0
    max_iter: int = 30
    tol: float = 1e-4
    relations: tuple[str, ...] = TRUST_RELATIONS


def relation_graph(snapshot: Snapshot, kinds: tuple[str, ...] = TRUST_RELATIONS) -> sp.csr_matrix:
    """Symmetric binary adjacency (n_accounts x n_accounts) of the given relation kinds."""
    codes = [RELATION_KINDS.index(k) for k in kinds]
    rel = snapshot.relations
    keep = np.isin(rel[:, 2], codes) & (rel[:, 0] != rel[:, 1])
    return adjacency(rel[keep, 0], rel[keep, 1], snapshot.n_accounts)


def adjacency(src: np.ndarray, dst: np.ndarray, n: int) -> sp.csr_matrix:
    """Symmetric 0/1 float64 CSR from an edge list (duplicates and both directions collapse)."""
    rows = np.concatenate([src, dst]).astype(np.int64)
    cols = np.concatenate([dst, src]).astype(np.int64)
    keep = rows != cols
    data = np.ones(int(keep.sum()), dtype=np.float64)
    adj = sp.csr_matrix((data, (rows[keep], cols[keep])), shape=(n, n))
    adj.sum_duplicates()
    adj.data[:] = 1.0
    return adj


def sybilscar(
    adj: sp.csr_matrix,
    sybil_seeds: np.ndarray,
    benign_seeds: np.ndarray | None = None,
    params: TrustParams = TrustParams(),
) -> np.ndarray:
    """Per-account probability of being a Sybil, in [0, 1] (1/2: nothing known).

    >>> adj = adjacency(np.array([0, 1]), np.array([1, 2]), 4)  # path 0-1-2, 3 isolated
    >>> p = sybilscar(adj, np.array([0]))
    >>> bool(p[1] > p[2] > 0.5), float(p[3])
    (True, 0.5)
    """
    n = adj.shape[0]
    if adj.shape != (n, n):
        raise ValueError("adjacency must be square")
    if not 0 < params.theta <= 0.5 or not 0 < params.strength <= 1:
        raise ValueError("theta must be in (0, 0.5] and strength in (0, 1]")
    prior = np.zeros(n)
    if benign_seeds is not None:
        prior[np.asarray(benign_seeds, dtype=np.int64)] = -params.theta
    # A ban outranks a stale verify on the same account.
    prior[np.asarray(sybil_seeds, dtype=np.int64)] = params.theta
    degree = np.asarray(adj.sum(axis=1)).ravel()
    inv = np.divide(params.strength, degree, out=np.zeros(n), where=degree > 0)
    walk = sp.diags(inv) @ adj
    walk = sp.csr_matrix(walk)
    p = prior.copy()
    for _ in range(params.max_iter):
        nxt = np.clip(prior + walk @ p, -0.5, 0.5)
        moved = float(np.abs(nxt - p).max(initial=0.0))
        p = nxt
        if moved < params.tol:
            break
    return np.asarray(p + 0.5)


def sybilrank(
    adj: sp.csr_matrix,
    trusted_seeds: np.ndarray,
    n_iter: int | None = None,
) -> np.ndarray:
    """Degree-normalised trust T_u / d_u after ceil(log2 n) steps (higher: more trusted).

    >>> adj = adjacency(np.array([0, 1, 3]), np.array([1, 2, 4]), 5)  # 0-1-2 and 3-4
    >>> t = sybilrank(adj, np.array([0]))
    >>> bool(t[1] > 0 and t[3] == 0)
    True
    """
    n = adj.shape[0]
    seeds = np.unique(np.asarray(trusted_seeds, dtype=np.int64))
    trust = np.zeros(n)
    if n == 0 or seeds.shape[0] == 0:
        return trust
    steps = n_iter if n_iter is not None else max(1, math.ceil(math.log2(max(n, 2))))
    degree = np.asarray(adj.sum(axis=1)).ravel()
    inv = np.divide(1.0, degree, out=np.zeros(n), where=degree > 0)
    # Total trust n, split over the seeds (SybilRank's initialisation).
    trust[seeds] = n / seeds.shape[0]
    adj_t = sp.csr_matrix(adj.T)
    for _ in range(steps):
        trust = adj_t @ (trust * inv)
    return np.asarray(trust * inv)


def sybil_scores(
    snapshot: Snapshot,
    params: TrustParams = TrustParams(),
    *,
    distrusted: np.ndarray | None = None,
    trusted: np.ndarray | None = None,
) -> np.ndarray:
    """SybilSCAR over the snapshot's relations. Sybil seeds: banned accounts and `distrusted`
    (bool per row: accounts a reviewer labelled `fraud`); benign seeds: verified accounts (if
    the snapshot knows any) and `trusted` (labelled `legit` or cleared). A reviewer's verdict is
    as much a label as an enforcement, and often the only one a fresh farm has. Rounded to 6
    places so results compare equal across runs."""
    adj = relation_graph(snapshot, params.relations)
    sybil = snapshot.banned_at >= 0
    if distrusted is not None:
        sybil = sybil | np.asarray(distrusted, dtype=bool)
    benign = np.zeros(snapshot.n_accounts, dtype=bool)
    if snapshot.verified is not None:
        benign |= np.asarray(snapshot.verified, dtype=bool)
    if trusted is not None:
        benign |= np.asarray(trusted, dtype=bool)
    return np.round(sybilscar(adj, np.flatnonzero(sybil), np.flatnonzero(benign), params), 6)
