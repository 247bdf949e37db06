"""Small array helpers shared by the detectors (no I/O, no randomness)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import scipy.sparse as sp

from ringwatch.detectors.snapshot import KIND_CODE, Snapshot
from ringwatch.vocabulary import STRONG_KINDS

STRONG: tuple[str, ...] = STRONG_KINDS
# Their codes in Snapshot.identifier_kind, for np.isin over identifier columns.
STRONG_CODES = np.array([KIND_CODE[k] for k in STRONG], dtype=np.int64)


def check_snapshot(snapshot: object) -> Snapshot:
    """Reject anything that is not a consistent `Snapshot` before any work is done."""
    if not isinstance(snapshot, Snapshot):
        raise ValueError(f"expected a Snapshot, got {type(snapshot).__name__}")
    n = snapshot.n_accounts
    if snapshot.links.shape != (n, snapshot.identifiers.shape[0]):
        raise ValueError("snapshot.links shape does not match accounts x identifiers")
    if snapshot.name_sketch.shape[0] != n or snapshot.email_sketch.shape[0] != n:
        raise ValueError("sketch rows do not match accounts")
    if snapshot.created_at.shape[0] != n or snapshot.banned_at.shape[0] != n:
        raise ValueError("per-account arrays do not match accounts")
    return snapshot


def check_kinds(kinds: Iterable[str]) -> tuple[str, ...]:
    out = tuple(sorted({str(k) for k in kinds}))
    unknown = [k for k in out if k not in KIND_CODE]
    if unknown:
        raise ValueError(f"unknown identifier kinds: {unknown}; expected some of {list(KIND_CODE)}")
    return out


def binary_links(snapshot: Snapshot) -> sp.csc_matrix:
    """Accounts x identifiers with 1 where the link exists (event counts do not matter here)."""
    links = snapshot.links_by_identifier
    return sp.csc_matrix(
        # Copies: callers may edit their matrix in place; the snapshot's view is shared.
        (np.ones(links.nnz, dtype=np.float32), links.indices.copy(), links.indptr.copy()),
        shape=links.shape,
    )


def identifier_degree(snapshot: Snapshot) -> np.ndarray:
    """How many accounts each identifier links (columns of the link matrix), or, when the
    snapshot holds only part of the store, its accounts in the whole store: a carrier's NAT
    address used by thousands is not rare because three of them are in an incremental scope."""
    degree = np.asarray(np.diff(snapshot.links_by_identifier.indptr), dtype=np.int64)
    if snapshot.identifier_accounts is not None:
        degree = np.maximum(degree, snapshot.identifier_accounts)
    return degree


def column_caps(snapshot: Snapshot, caps: Mapping[str, int], default: int = 0) -> np.ndarray:
    """Per-column degree cap from a per-kind mapping (kinds missing from the map get `default`)."""
    table = np.full(len(KIND_CODE), default, dtype=np.int64)
    for kind, cap in caps.items():
        table[KIND_CODE[kind]] = cap
    return table[snapshot.identifier_kind.astype(np.int64)]


def group_pairs(groups: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All unordered pairs of `members` that share a group label, without a Python loop.

    `groups` must be sorted; the caller caps group sizes, since pairs grow quadratically.

    >>> group_pairs(np.array([0, 0, 0, 1]), np.array([5, 6, 7, 8]))
    (array([5, 5, 6]), array([6, 7, 7]))
    """
    n = groups.shape[0]
    if n == 0:
        empty = np.zeros(0, dtype=members.dtype)
        return empty, empty
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    ends = np.r_[starts[1:], n]
    end_of = np.repeat(ends, ends - starts)
    pos = np.arange(n)
    later = end_of - pos - 1
    total = int(later.sum())
    left = np.repeat(pos, later)
    # For each left element, right indices run pos+1 .. end-1: offset by the running count.
    first_out = np.cumsum(later) - later
    right = np.arange(total) - np.repeat(first_out, later) + left + 1
    return members[left], members[right]


def symmetric_from_pairs(
    rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, n: int
) -> sp.csr_matrix:
    """Upper-triangular weighted pair list -> symmetric CSR with duplicates summed, no loops."""
    keep = rows != cols
    r, c, w = rows[keep], cols[keep], weights[keep]
    lo, hi = np.minimum(r, c), np.maximum(r, c)
    upper = sp.coo_matrix((w.astype(np.float64), (lo, hi)), shape=(n, n)).tocsr()
    upper.sum_duplicates()
    return (upper + upper.T).tocsr()
