"""Engagement rings: blocks of accounts that push the same targets (review, like, follow fraud).

Why it is abuse: a paid-review or like farm sells volume, so a few hundred accounts must each
engage the same few dozen customer targets; real users spread over many targets, and those they
share are the popular ones. Two complementary views:

- `fraudar`: Fraudar's greedy peeling (Hooi, Song, Beutel, Shah, Shin, Faloutsos: "FRAUDAR:
  bounding graph fraud in the face of camouflage", KDD 2016). Edge (account, target) weighs
  1 / log(deg(target) + c), so engaging popular targets (the camouflage a farm adds to look
  normal) adds little; the block maximising average suspiciousness g(S) = f(S) / |S| over
  accounts and targets is found by removing, one at a time, the node of least weighted degree
  (a heap with lazy updates: O(|E| log |V|)) and keeping the best prefix. Fraudar's bound
  holds because camouflage edges only ever add to the fraud block's f. Repeated on what is left
  for several blocks.
- `synchrotrap`: SynchroTrap (Cao, Yang, Yu, Palow: "Uncovering large groups of active
  malicious accounts in online social networks", CCS 2014): farms act in lockstep, so accounts'
  sets of (target, time bucket) actions are compared by Jaccard similarity and similar pairs are
  clustered (connected components of the similarity graph).

Both are pure, deterministic functions of their arrays.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ringwatch.detectors.snapshot import Snapshot


@dataclass(frozen=True)
class Block:
    """A dense block: rows (accounts) and columns (targets), sorted, and its density g(S)."""

    rows: np.ndarray
    cols: np.ndarray
    density: float


@dataclass(frozen=True)
class FraudarParams:
    """c: the log weighting's offset (the paper's 5). max_blocks: blocks peeled in turn.
    min_rows / min_cols: smaller blocks are not reported (two accounts liking one post is life).
    min_lift: a block must be at least this many times denser than the whole matrix."""

    c: float = 5.0
    max_blocks: int = 5
    min_rows: int = 5
    min_cols: int = 3
    min_lift: float = 2.0


@dataclass(frozen=True)
class SyncParams:
    """bucket_s: length of a time bucket (SynchroTrap compares actions within one).
    min_jaccard / min_common: a pair is similar above both. max_bucket_accounts: a
    (target, bucket) cell engaged by more accounts (a viral post) does not make pairs.
    min_cluster: smaller clusters are not reported."""

    bucket_s: int = 3600
    min_jaccard: float = 0.2
    min_common: int = 3
    max_bucket_accounts: int = 200
    min_cluster: int = 5


def log_weights(matrix: sp.spmatrix, c: float = 5.0) -> sp.csr_matrix:
    """Binary accounts x targets with each column weighted 1 / log(column degree + c)."""
    m = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    m.sum_duplicates()
    m.data[:] = 1.0
    deg = np.asarray(m.sum(axis=0)).ravel()
    w = 1.0 / np.log(deg + c)
    out = sp.csr_matrix(m @ sp.diags(w))
    out.sort_indices()
    return out


def peel(weighted: sp.csr_matrix) -> Block:
    """The densest block of a weighted bipartite matrix by greedy peeling (heap, lazy updates).

    >>> m = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=float))
    >>> b = peel(m)
    >>> b.rows.tolist(), b.cols.tolist(), b.density
    ([0, 1], [0, 1], 1.0)
    """
    csr = sp.csr_matrix(weighted)
    n_rows, n_cols = csr.shape
    csc = sp.csc_matrix(csr)
    r_ptr, r_idx, r_val = csr.indptr.tolist(), csr.indices.tolist(), csr.data.tolist()
    c_ptr, c_idx, c_val = csc.indptr.tolist(), csc.indices.tolist(), csc.data.tolist()
    # Node u < n_rows is a row, else column u - n_rows.
    prio = (
        np.asarray(csr.sum(axis=1)).ravel().tolist() + np.asarray(csr.sum(axis=0)).ravel().tolist()
    )
    total = float(csr.sum())
    alive = [True] * (n_rows + n_cols)
    n_alive = n_rows + n_cols
    heap = [(p, u) for u, p in enumerate(prio)]
    heapq.heapify(heap)
    best = total / n_alive if n_alive else 0.0
    best_step = 0
    order: list[int] = []
    push, pop = heapq.heappush, heapq.heappop
    while heap and n_alive > 1:
        p, u = pop(heap)
        if not alive[u] or p != prio[u]:
            continue
        alive[u] = False
        n_alive -= 1
        order.append(u)
        total -= p
        if u < n_rows:
            for k in range(r_ptr[u], r_ptr[u + 1]):
                v = n_rows + r_idx[k]
                if alive[v]:
                    prio[v] -= r_val[k]
                    push(heap, (prio[v], v))
        else:
            j = u - n_rows
            for k in range(c_ptr[j], c_ptr[j + 1]):
                v = c_idx[k]
                if alive[v]:
                    prio[v] -= c_val[k]
                    push(heap, (prio[v], v))
        g = total / n_alive
        if g > best:
            best, best_step = g, len(order)
    removed = np.zeros(n_rows + n_cols, bool)
    removed[np.array(order[:best_step], dtype=np.int64)] = True
    keep = np.flatnonzero(~removed)
    return Block(
        rows=keep[keep < n_rows],
        cols=keep[keep >= n_rows] - n_rows,
        density=round(float(best), 9),
    )


def naive_peel(weighted: sp.csr_matrix) -> Block:
    """The same peel recomputing every degree at each step (O(|V|^2)): the reference."""
    dense = sp.csr_matrix(weighted).toarray()
    n_rows, n_cols = dense.shape
    rows = np.ones(n_rows, bool)
    cols = np.ones(n_cols, bool)
    best = dense.sum() / (n_rows + n_cols)
    best_sets = (rows.copy(), cols.copy())
    while rows.sum() + cols.sum() > 1:
        sub = dense * rows[:, None] * cols[None, :]
        r_deg = np.where(rows, sub.sum(axis=1), np.inf)
        c_deg = np.where(cols, sub.sum(axis=0), np.inf)
        # Ties to the lowest node number, as the heap does.
        if r_deg.min() <= c_deg.min():
            rows[int(np.argmin(r_deg))] = False
        else:
            cols[int(np.argmin(c_deg))] = False
        size = rows.sum() + cols.sum()
        g = (dense * rows[:, None] * cols[None, :]).sum() / size
        if g > best:
            best, best_sets = g, (rows.copy(), cols.copy())
    return Block(
        rows=np.flatnonzero(best_sets[0]),
        cols=np.flatnonzero(best_sets[1]),
        density=round(float(best), 9),
    )


def fraudar(matrix: sp.spmatrix, params: FraudarParams = FraudarParams()) -> list[Block]:
    """Dense blocks of an accounts x targets engagement matrix, densest first. After each block
    its accounts are taken out and the rest is peeled again."""
    weighted = log_weights(matrix, params.c)
    n_rows, n_cols = weighted.shape
    if weighted.nnz == 0:
        return []
    overall = float(weighted.sum()) / (n_rows + n_cols)
    active = np.ones(n_rows, bool)
    blocks: list[Block] = []
    for _ in range(params.max_blocks):
        # Peel only rows and columns that still have edges, so isolated nodes cost nothing.
        sub = sp.csr_matrix(sp.diags(active.astype(np.float64)) @ weighted)
        sub.eliminate_zeros()
        rows = np.flatnonzero(np.diff(sub.indptr) > 0)
        cols = np.flatnonzero(np.diff(sp.csc_matrix(sub).indptr) > 0)
        if rows.shape[0] == 0:
            break
        found = peel(sp.csr_matrix(sub[rows][:, cols]))
        block = Block(rows=rows[found.rows], cols=cols[found.cols], density=found.density)
        if (
            block.rows.shape[0] < params.min_rows
            or block.cols.shape[0] < params.min_cols
            or block.density < params.min_lift * overall
        ):
            break
        blocks.append(block)
        active[block.rows] = False
    return blocks


def synchrotrap(
    account: np.ndarray,
    target: np.ndarray,
    ts: np.ndarray,
    n_accounts: int,
    params: SyncParams = SyncParams(),
) -> list[np.ndarray]:
    """Clusters (sorted account rows, largest first) of accounts acting on the same targets in
    the same time buckets. Inputs are parallel arrays of actions (account row, target, epoch s).
    """
    account = np.asarray(account, dtype=np.int64)
    if account.shape[0] == 0:
        return []
    cell_key = np.asarray(target, dtype=np.int64) * (1 << 32) + np.asarray(ts, np.int64) // max(
        params.bucket_s, 1
    )
    _, cell = np.unique(cell_key, return_inverse=True)
    n_cells = int(cell.max()) + 1
    b = sp.csr_matrix((np.ones(account.shape[0]), (account, cell)), shape=(n_accounts, n_cells))
    b.sum_duplicates()
    b.data[:] = 1.0
    size = np.asarray(b.sum(axis=1)).ravel()
    col_deg = np.asarray(b.sum(axis=0)).ravel()
    # A crowd on a viral post is not a ring; its n^2 pairs would also swamp the product.
    b = sp.csr_matrix(b @ sp.diags((col_deg <= params.max_bucket_accounts).astype(np.float64)))
    b.eliminate_zeros()
    co = sp.triu(b @ b.T, k=1).tocoo()
    union = size[co.row] + size[co.col] - co.data
    jac = np.divide(co.data, union, out=np.zeros_like(co.data), where=union > 0)
    keep = (co.data >= params.min_common) & (jac >= params.min_jaccard)
    sim = sp.csr_matrix(
        (np.ones(int(keep.sum())), (co.row[keep], co.col[keep])), shape=(n_accounts, n_accounts)
    )
    _, labels = connected_components(sim, directed=False)
    counts = np.bincount(labels, minlength=n_accounts)
    clusters = [
        np.flatnonzero(labels == lab)
        for lab in np.flatnonzero(counts >= max(params.min_cluster, 2)).tolist()
    ]
    clusters.sort(key=lambda c: (-c.shape[0], int(c[0])))
    return clusters


@dataclass(frozen=True)
class EngagementRing:
    """Accounts (rows) flagged by `method` with the targets they pushed (indices into
    snapshot.engage_targets) and a strength in [0, 1]."""

    method: str  # fraudar | synchrotrap
    rows: np.ndarray
    targets: np.ndarray
    score: float


def engagement_matrix(snapshot: Snapshot) -> sp.csr_matrix:
    """Binary accounts x targets: any engagement action counts once per pair."""
    eng = snapshot.engagements
    m = sp.csr_matrix(
        (np.ones(eng.shape[0]), (eng[:, 0], eng[:, 1])),
        shape=(snapshot.n_accounts, snapshot.engage_targets.shape[0]),
    )
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def engagement_rings(
    snapshot: Snapshot,
    fraudar_params: FraudarParams = FraudarParams(),
    sync_params: SyncParams = SyncParams(),
) -> list[EngagementRing]:
    """Fraudar blocks and SynchroTrap clusters over the snapshot's engagements. A block's score
    is its share of possible (account, target) pairs engaged; a cluster's targets are those at
    least half of its accounts engaged."""
    eng = snapshot.engagements
    if eng.shape[0] == 0:
        return []
    matrix = engagement_matrix(snapshot)
    out: list[EngagementRing] = []
    for block in fraudar(matrix, fraudar_params):
        sub = matrix[block.rows][:, block.cols]
        fill = sub.nnz / max(block.rows.shape[0] * block.cols.shape[0], 1)
        out.append(EngagementRing("fraudar", block.rows, block.cols, round(float(fill), 6)))
    for rows in synchrotrap(eng[:, 0], eng[:, 1], eng[:, 3], snapshot.n_accounts, sync_params):
        share = np.asarray(matrix[rows].sum(axis=0)).ravel() / rows.shape[0]
        targets = np.flatnonzero(share >= 0.5)
        score = float(share[targets].mean()) if targets.shape[0] else 0.0
        out.append(EngagementRing("synchrotrap", rows, targets, round(score, 6)))
    return out


def ring_member_score(n_accounts: int, rings: list[EngagementRing]) -> np.ndarray:
    """Per account: the strongest engagement ring it belongs to (0: none)."""
    score = np.zeros(n_accounts)
    for r in rings:
        np.maximum.at(score, r.rows, r.score)
    return score


def ring_records(snapshot: Snapshot, rings: list[EngagementRing]) -> tuple[dict[str, Any], ...]:
    """Export rows: method, members (account ids), targets pushed (ids), score."""
    return tuple(
        {
            "method": r.method,
            "members": sorted(str(a) for a in snapshot.accounts[r.rows]),
            "targets": sorted(str(t) for t in snapshot.engage_targets[r.targets]),
            "score": r.score,
        }
        for r in rings
    )


def overlap_evidence(
    snapshot: Snapshot, members: np.ndarray, rings: list[EngagementRing], max_targets: int = 20
) -> list[dict[str, Any]]:
    """For an identity ring's member rows: the engagement rings it overlaps, with how many of
    its members are in each and the targets they pushed (what a reviewer checks)."""
    out = []
    for r in rings:
        shared = int(np.intersect1d(members, r.rows, assume_unique=True).shape[0])
        if shared:
            out.append(
                {
                    "method": r.method,
                    "members_in_block": shared,
                    "block_size": int(r.rows.shape[0]),
                    "targets": sorted(str(t) for t in snapshot.engage_targets[r.targets])[
                        :max_targets
                    ],
                    "score": r.score,
                }
            )
    return out
