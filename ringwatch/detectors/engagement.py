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
  for several blocks. A block is reported only if its members engage its targets well above
  what their own activity predicts (`expected_lift`): accounts that engage a lot, on targets
  that are popular anyway, form a dense block by arithmetic, not by coordination.
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
    """A dense block: rows (accounts) and columns (targets), sorted, its density g(S) and (once
    `fraudar` has judged it) its edges over the configuration-model expectation."""

    rows: np.ndarray
    cols: np.ndarray
    density: float
    lift: float | None = None


@dataclass(frozen=True)
class FraudarParams:
    """c: the log weighting's offset (the paper's 5). max_blocks: blocks reported.
    max_peels: peels in turn, rejected blocks included.
    min_rows / min_cols: smaller blocks are not reported (two accounts liking one post is life).
    min_lift: a block must be at least this many times denser (g) than the whole matrix; it is
    also the weighted core's threshold, so it bounds what the peel must look at.
    min_expected_lift: a block's edges must be at least this many times the configuration-model
    expectation from its members' and targets' degrees in the whole matrix (`expected_lift`)."""

    c: float = 5.0
    max_blocks: int = 5
    max_peels: int = 20
    min_rows: int = 5
    min_cols: int = 3
    min_lift: float = 2.0
    min_expected_lift: float = 2.0


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


def weighted_core(weighted: sp.csr_matrix, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the largest sub-matrix whose every row and column has weighted degree
    >= threshold (the weighted t-core), found by removing all lighter nodes at once, repeatedly.

    Why it is exact for peeling: while any node outside the core is left, some node has degree
    < threshold and every core node has >= threshold, so the greedy peel removes exactly the
    non-core nodes first and then peels the core as if it were the whole matrix. Once the
    density reaches the threshold, removing a node lighter than it only raises the density, so
    every state before the core is either below the threshold or below the core's own density.

    >>> m = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [0, 1, 1]], dtype=float))
    >>> [a.tolist() for a in weighted_core(m, 2.0)]
    [[0, 1], [0, 1]]
    """
    sub = sp.csr_matrix(weighted)
    rows = np.arange(sub.shape[0])
    cols = np.arange(sub.shape[1])
    while rows.shape[0] and cols.shape[0]:
        r_keep = np.asarray(sub.sum(axis=1)).ravel() >= threshold
        c_keep = np.asarray(sub.sum(axis=0)).ravel() >= threshold
        if r_keep.all() and c_keep.all():
            break
        rows, cols = rows[r_keep], cols[c_keep]
        sub = sp.csr_matrix(sub[r_keep][:, c_keep])
    if not (rows.shape[0] and cols.shape[0]):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return rows, cols


def expected_lift(
    binary: sp.csr_matrix,
    rows: np.ndarray,
    cols: np.ndarray,
    row_degree: np.ndarray | None = None,
    col_degree: np.ndarray | None = None,
) -> float:
    """Edges of the block over what the configuration model expects from the degrees alone:
    e(S, T) / (sum of deg(s) * sum of deg(t) / |E|), degrees and |E| in the whole binary matrix.

    A heavy user (many engagements) on popular targets fills many cells of any block of such
    users and targets at ratio ~1; a farm pushing targets few others engage puts far more edges
    there than the targets' own popularity explains.

    >>> m = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]]))
    >>> expected_lift(m, np.array([0, 1]), np.array([0, 1]))
    2.0
    """
    b = sp.csr_matrix(binary)
    if row_degree is None:
        row_degree = np.asarray(b.sum(axis=1)).ravel()
    if col_degree is None:
        col_degree = np.asarray(b.sum(axis=0)).ravel()
    edges = float(row_degree.sum())
    inside = float(b[rows][:, cols].sum())
    expected = float(row_degree[rows].sum()) * float(col_degree[cols].sum()) / max(edges, 1.0)
    return inside / expected if expected > 0 else 0.0


def column_lift(
    binary: sp.csr_matrix,
    rows: np.ndarray,
    cols: np.ndarray,
    row_degree: np.ndarray,
    col_degree: np.ndarray,
) -> np.ndarray:
    """Per column of a block: its edges from the block's rows over the configuration-model
    expectation, deg(t) * sum of deg(s) / |E| (~1 for a popular target the rows engage only as
    often as everyone does)."""
    inside = np.asarray(sp.csr_matrix(binary)[rows][:, cols].sum(axis=0)).ravel()
    expected = col_degree[cols] * float(row_degree[rows].sum()) / max(float(row_degree.sum()), 1.0)
    out: np.ndarray = np.divide(inside, expected, out=np.zeros_like(inside), where=expected > 0)
    return out


def fraudar(
    matrix: sp.spmatrix, params: FraudarParams = FraudarParams(), *, prune: bool = True
) -> list[Block]:
    """Dense blocks of an accounts x targets engagement matrix, in the order found. After each
    peel the block's accounts are taken out and the rest is peeled again.

    A block is reported when its density g is at least `min_lift` times the whole matrix's and
    its edges at least `min_expected_lift` times the configuration-model expectation
    (`expected_lift`). A block failing the second test (prolific accounts on popular targets)
    is no ring; a farm that joined it through camouflage on those popular targets is looked
    for among the block's own accounts on the targets they engage above expectation
    (`column_lift`), and the block's accounts are taken out either way.

    Only the weighted core at the density floor is peeled (`weighted_core`: the same blocks,
    and the benign bulk of a million accounts never enters the heap). The expectation tests
    only judge blocks the peel returned and which accounts later peels see, both the same with
    and without pruning, so the pruning stays exact. `prune=False` peels every node with an
    edge (the reference the benchmark compares against)."""
    weighted = log_weights(matrix, params.c)
    n_rows, n_cols = weighted.shape
    if weighted.nnz == 0:
        return []
    binary = sp.csr_matrix(weighted, copy=True)
    binary.data[:] = 1.0
    row_degree = np.asarray(binary.sum(axis=1)).ravel()
    col_degree = np.asarray(binary.sum(axis=0)).ravel()
    overall = float(weighted.sum()) / (n_rows + n_cols)
    floor = params.min_lift * overall
    active = np.ones(n_rows, bool)
    blocks: list[Block] = []
    for _ in range(params.max_peels):
        if len(blocks) >= params.max_blocks:
            break
        left = np.flatnonzero(active)
        sub = sp.csr_matrix(weighted[left])
        if prune:
            r, cols = weighted_core(sub, floor)
        else:
            # Peel only rows and columns that still have edges, so isolated nodes cost nothing.
            r = np.flatnonzero(np.diff(sub.indptr) > 0)
            cols = np.flatnonzero(np.diff(sp.csc_matrix(sub).indptr) > 0)
        if r.shape[0] == 0:
            break
        rows = left[r]
        found = peel(sp.csr_matrix(sub[r][:, cols]))
        if (
            found.rows.shape[0] < params.min_rows
            or found.cols.shape[0] < params.min_cols
            or found.density < floor
        ):
            break
        b_rows, b_cols = rows[found.rows], cols[found.cols]
        lift = expected_lift(binary, b_rows, b_cols, row_degree, col_degree)
        if lift >= params.min_expected_lift:
            blocks.append(Block(b_rows, b_cols, found.density, round(lift, 6)))
            active[b_rows] = False
            continue
        # Not a ring as a whole: accounts that engage a lot, on targets popular anyway. A farm
        # can still hide in it, joined through its camouflage on the popular targets: the
        # targets the block's accounts engage well above their popularity are peeled alone.
        active[b_rows] = False
        pushed = b_cols[
            column_lift(binary, b_rows, b_cols, row_degree, col_degree) >= params.min_expected_lift
        ]
        if pushed.shape[0] < params.min_cols:
            continue
        inner = peel(sp.csr_matrix(weighted[b_rows][:, pushed]))
        i_rows, i_cols = b_rows[inner.rows], pushed[inner.cols]
        if i_rows.shape[0] < params.min_rows or i_cols.shape[0] < params.min_cols:
            continue
        lift = expected_lift(binary, i_rows, i_cols, row_degree, col_degree)
        if inner.density >= floor and lift >= params.min_expected_lift:
            blocks.append(Block(i_rows, i_cols, inner.density, round(lift, 6)))
    return blocks


def _codes(keys: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense codes 0..k-1 of int64 keys in key order, and k (a sort: np.unique's inverse is
    several times slower on millions of keys)."""
    order = np.argsort(keys)
    ranked = keys[order]
    first = np.empty(ranked.shape[0], dtype=bool)
    first[:1] = True
    np.not_equal(ranked[1:], ranked[:-1], out=first[1:])
    codes = np.empty(keys.shape[0], dtype=np.int64)
    codes[order] = np.cumsum(first) - 1
    return codes, int(first.sum())


def _distinct_sorted(keys: np.ndarray) -> np.ndarray:
    """The distinct values of int64 keys, sorted (one in-place sort, no index arrays)."""
    keys = np.sort(keys)
    first = np.empty(keys.shape[0], dtype=bool)
    first[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    return keys[first]


def _cells(
    account: np.ndarray, target: np.ndarray, ts: np.ndarray, bucket_s: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Unique (account, cell) pairs, a cell being one (target, time bucket), as dense codes."""
    tgt = np.asarray(target, dtype=np.int64)
    bucket = np.asarray(ts, np.int64) // max(bucket_s, 1)
    bucket = bucket - (int(bucket.min()) if bucket.shape[0] else 0)
    n_buckets = int(bucket.max()) + 1 if bucket.shape[0] else 1
    n_acc = int(account.max()) + 1
    cell_key = tgt * n_buckets + bucket
    if (int(cell_key.max()) + 1) * n_acc < 2**62:
        # One sort of (cell, account) keys gives both the pairs and the cells' codes.
        pair = _distinct_sorted(cell_key * n_acc + account)
        key = pair // n_acc
        new_cell = np.empty(key.shape[0], dtype=bool)
        new_cell[:1] = True
        np.not_equal(key[1:], key[:-1], out=new_cell[1:])
        cell = np.cumsum(new_cell) - 1
        return pair % n_acc, cell, int(new_cell.sum())
    cell, n_cells = _codes(cell_key)
    pair = _distinct_sorted(account * n_cells + cell)
    return pair // n_cells, pair % n_cells, n_cells


def _prefixes(
    acc: np.ndarray, cel: np.ndarray, size: np.ndarray, params: SyncParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Prefix filtering (the set-similarity join's: Chaudhuri et al., ICDE 2006; Bayardo et al.,
    WWW 2007). Cells ranked rarest first; a pair with at least o common cells shares one among
    the first |cells| - o + 1 of each side's cells (the rarest common cell is in both), and a
    similar pair needs o >= min_common and o >= min_jaccard * |own cells|. So candidates come
    from prefix cells only: the popular cells, where most benign pairs meet, stay out (with
    prefixes `_shared_in_prefix` - 1 cells longer, candidates must share that many there).

    Returns per (account, cell) entry its account row and cell rank (both dense), the row's
    account id, and whether the entry is in its row's prefix."""
    a, n_rows = _codes(acc)
    ids = np.empty(n_rows, dtype=np.int64)
    ids[a] = acc
    c, n_used = _codes(cel)
    deg = np.bincount(c, minlength=n_used)
    rank_of = np.empty(n_used, dtype=np.int64)
    rank_of[np.argsort(deg * n_used + np.arange(n_used))] = np.arange(n_used)
    # Entries by (row, rank): one sort of a combined key.
    key = np.sort(a * n_used + rank_of[c])
    a, rank = key // n_used, key % n_used
    count = np.bincount(a, minlength=ids.shape[0])
    pos = np.arange(a.shape[0]) - (np.cumsum(count) - count)[a]
    # The slack makes the overlap bound err low (a longer prefix): never a missed pair.
    need = np.ceil(params.min_jaccard * size[ids] - 1e-9)
    overlap = np.maximum(np.maximum(need, params.min_common), 1).astype(np.int64)
    prefix = pos < count[a] - overlap[a] + _shared_in_prefix(params)
    return a, rank, ids, prefix


def _shared_in_prefix(params: SyncParams) -> int:
    """j: with prefixes j cells longer, a pair with >= o >= j common cells shares j of them
    there (the j rarest common cells). j = 2 lets single shared cells, the bulk of benign
    pairs, drop before they are verified."""
    return 2 if params.min_common >= 2 else 1


def synchrotrap(
    account: np.ndarray,
    target: np.ndarray,
    ts: np.ndarray,
    n_accounts: int,
    params: SyncParams = SyncParams(),
) -> list[np.ndarray]:
    """Clusters (sorted account rows, largest first) of accounts acting on the same targets in
    the same time buckets. Inputs are parallel arrays of actions (account row, target, epoch s).

    Only what can make a similar pair enters: cells with 2 to `max_bucket_accounts` accounts,
    and accounts with at least `min_common` such cells and at least `min_jaccard` of all their
    cells among them (Jaccard >= t needs common >= t * |own cells|). Candidate pairs come from
    each account's prefix of rarest cells (`_prefixes`) and are verified exactly, in row chunks
    of bounded work, so cost and memory follow the candidates, not every pair that shares a
    cell. The same clusters as the whole accounts x cells product.
    """
    account = np.asarray(account, dtype=np.int64)
    if account.shape[0] == 0:
        return []
    acc, cel, n_cells = _cells(account, target, ts, params.bucket_s)
    size = np.bincount(acc, minlength=n_accounts).astype(np.float64)
    col_deg = np.bincount(cel, minlength=n_cells)
    # A crowd on a viral post is not a ring; its n^2 pairs would also swamp the product.
    usable = col_deg[cel] <= params.max_bucket_accounts
    need = np.maximum(float(params.min_common), params.min_jaccard * size - 1e-9)
    # Each round only shrinks work (a removed entry is in no similar pair), so a few rounds
    # suffice; the fixpoint is not needed for the answer.
    for _ in range(4):
        acc, cel = acc[usable], cel[usable]
        shared = np.bincount(cel, minlength=n_cells)[cel] >= 2
        enough = np.bincount(acc[shared], minlength=n_accounts) >= need
        usable = shared & enough[acc]
        if usable.sum() > 0.95 * usable.shape[0]:
            break
    acc, cel = acc[usable], cel[usable]
    rows_l: list[np.ndarray] = []
    cols_l: list[np.ndarray] = []
    if acc.shape[0]:
        a, rank, ids, prefix = _prefixes(acc, cel, size, params)
        j = _shared_in_prefix(params)
        b = sp.csr_matrix(
            (np.ones(a.shape[0]), (a, rank)), shape=(ids.shape[0], int(rank.max()) + 1)
        )
        p = sp.csr_matrix((np.ones(int(prefix.sum())), (a[prefix], rank[prefix])), shape=b.shape)
        # Candidate products a row makes: the accounts holding each of its prefix cells.
        work = np.asarray(p @ np.bincount(rank[prefix], minlength=b.shape[1])).ravel()
        bounds = np.searchsorted(np.cumsum(work), np.arange(1, 1 + int(work.sum() // 5e6)) * 5e6)
        starts = np.unique(np.r_[0, bounds, ids.shape[0]])
        sz = size[ids]
        for lo, hi in zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True):
            cand = sp.csr_matrix(p[lo:hi] @ p[lo:].T)
            r = np.repeat(np.arange(lo, hi), np.diff(cand.indptr))
            k = cand.indices.astype(np.int64) + lo
            upper = (k > r) & (cand.data >= j)
            r, k = r[upper], k[upper]
            common = np.asarray(b[r].multiply(b[k]).sum(axis=1), dtype=np.float64).ravel()
            union = sz[r] + sz[k] - common
            jac = np.divide(common, union, out=np.zeros_like(common), where=union > 0)
            keep = (common >= params.min_common) & (jac >= params.min_jaccard)
            rows_l.append(ids[r[keep]])
            cols_l.append(ids[k[keep]])
    pr = np.concatenate(rows_l) if rows_l else np.zeros(0, np.int64)
    pc = np.concatenate(cols_l) if cols_l else np.zeros(0, np.int64)
    sim = sp.csr_matrix((np.ones(pr.shape[0]), (pr, pc)), shape=(n_accounts, n_accounts))
    return similar_clusters(sim, params.min_cluster)


def similar_clusters(sim: sp.csr_matrix, min_cluster: int) -> list[np.ndarray]:
    """Connected groups of the account-similarity graph with at least `min_cluster` members
    (and two), largest first, ties by their first account: the same order on every run."""
    n_accounts = sim.shape[0]
    _, labels = connected_components(sim, directed=False)
    counts = np.bincount(labels, minlength=n_accounts)
    clusters = [
        np.flatnonzero(labels == lab)
        for lab in np.flatnonzero(counts >= max(min_cluster, 2)).tolist()
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


def overlaps_evidence(
    snapshot: Snapshot,
    groups: list[np.ndarray],
    rings: list[EngagementRing],
    max_targets: int = 20,
) -> list[list[dict[str, Any]]]:
    """`overlap_evidence` for every group at once: one sparse product counts the members each
    group shares with each engagement ring, instead of one intersection per (group, ring)
    pair, which grew with rings x engagement rings (most of "ring ids + evidence" at 100k).

    >>> import numpy as np
    >>> from ringwatch.detectors.snapshot import SnapshotBuilder
    >>> b = SnapshotBuilder()
    >>> for a in ("a", "b", "c"):
    ...     b.add_engagement(a, "post-1", "like", 0)
    >>> snap = b.build()
    >>> pushed = [EngagementRing("fraudar", np.array([0, 1]), np.array([0]), 0.9)]
    >>> overlaps_evidence(snap, [np.array([1, 2]), np.array([2])], pushed)[0][0]["members_in_block"]
    1
    """
    n = snapshot.n_accounts
    if not groups or not rings:
        return [[] for _ in groups]
    group_rows = np.concatenate(groups)
    group_of = np.repeat(np.arange(len(groups)), [g.shape[0] for g in groups])
    in_group = sp.csr_matrix(
        (np.ones(group_rows.shape[0]), (group_of, group_rows)), shape=(len(groups), n)
    )
    ring_rows = np.concatenate([r.rows for r in rings])
    ring_of = np.repeat(np.arange(len(rings)), [r.rows.shape[0] for r in rings])
    in_ring = sp.csc_matrix(
        (np.ones(ring_rows.shape[0]), (ring_rows, ring_of)), shape=(n, len(rings))
    )
    # Each account once per group and per ring, as the intersection of unique rows counts.
    for m in (in_group, in_ring):
        m.sum_duplicates()
        m.data[:] = 1.0
    shared = (in_group @ in_ring).tocsr()
    shared.sort_indices()
    targets: dict[int, list[str]] = {}
    out: list[list[dict[str, Any]]] = []
    for g in range(len(groups)):
        lo, hi = shared.indptr[g], shared.indptr[g + 1]
        rows = []
        counts = shared.data[lo:hi].tolist()
        for j, count in zip(shared.indices[lo:hi].tolist(), counts, strict=True):
            if j not in targets:
                targets[j] = sorted(str(t) for t in snapshot.engage_targets[rings[j].targets])
            rows.append(
                {
                    "method": rings[j].method,
                    "members_in_block": round(count),
                    "block_size": int(rings[j].rows.shape[0]),
                    "targets": targets[j][:max_targets],
                    "score": rings[j].score,
                }
            )
        out.append(rows)
    return out
