"""The engagement detectors as first written (commit 792fbbe), kept as bench/fraudar.py's baseline.

`fraudar_v1` peels every row and column that has an edge (no weighted core); `synchrotrap_v1`
multiplies the whole accounts x (target, hour) matrix by its transpose and keeps the similar
pairs. The heap peel itself (`peel`), the log weighting and the clustering are unchanged in
ringwatch/detectors/engagement.py and are imported from there, so the comparison measures
only what the later commits changed.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ringwatch.detectors.engagement import (
    Block,
    FraudarParams,
    SyncParams,
    log_weights,
    peel,
    similar_clusters,
)


def fraudar_v1(matrix: sp.spmatrix, params: FraudarParams = FraudarParams()) -> list[Block]:
    """Dense blocks, densest first, peeling every node with an edge each round."""
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


def synchrotrap_v1(
    account: np.ndarray,
    target: np.ndarray,
    ts: np.ndarray,
    n_accounts: int,
    params: SyncParams = SyncParams(),
) -> list[np.ndarray]:
    """SynchroTrap clusters from one accounts x cells product over every account."""
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
    return similar_clusters(sim, params.min_cluster)
