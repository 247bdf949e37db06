"""Email-stem runs: accounts whose mailboxes share one stem at one provider and that signed up
in one session, too many of them for how common the stem is (issue 11, SIM farms).

An operator creating accounts in bulk needs a mailbox per account and mints them from one
stem and a counter: `anna.kowalski301`, `annakowalski302`... at one big provider. Only a keyed
hash of (provider, stem) reaches the graph (`email_stem`, identity.email_stem and
docs/privacy.md), so the detector sees "these accounts' mailboxes share a stem" and how many
accounts each stem has, never the text.

People share stems too: common names (`john`, `maria.garcia`) have hundreds of unrelated
owners at a big provider, and a family numbers its mailboxes after its surname. What they do
not do is open many of them in one session. So the test is how unlikely the session is for
unrelated people, given the stem's frequency in this deployment:

- per stem, signups closer than `gap` form a session (a family joining over weeks is several
  sessions of one or two). A popular stem's own signups arrive more often than that, which
  would chain a burst into months of ordinary signups; so a stem's gap is also at most
  `gap_share` of its mean time between signups (never under `min_gap`): a session is a
  stretch denser than the stem's own background;
- under the null hypothesis every signup in the session's time span independently has the
  stem with its deployment-wide share `p` (its accounts over all accounts with a stem), so
  the number having it is Binomial(N, p), N the signups with a stem in that span. Counting
  N from the clock, not from a constant rate, keeps a launch day or a campaign (many
  signups of every stem at once) from looking like a run;
- the session's tail probability, times the number of sessions the stem could have had in
  the deployment's history (a Bonferroni bound), is its *surprise*; below `alpha` divided by
  the number of keys that could hold a run (each stem with `min_size` accounts is a test of
  its own, and a big deployment runs thousands) and with at least `min_size` accounts the
  session is a run, and its pairs are linked with a weight growing per decade of surprise
  below `alpha`.

Where an account also has a phone number, the stem is combined with the phone-run windows
(identity.phone_runs): the joint key (stem, window) has share p_stem * p_window for unrelated
people, so a handful of accounts sharing both in one session is a run long before either
signal alone is (`joint_min_size`). The phone-run signal itself (behaviour.phone_runs) stays
as it is; pairs in both add up in the weighted graph.

>>> from ringwatch.detectors.snapshot import SnapshotBuilder
>>> b = SnapshotBuilder()
>>> for i in range(8):  # a farm: one stem, eight mailboxes, one afternoon
...     b.add_account(f"f{i}", {"created_at": 10_000_000 + 900 * i})
...     b.add_link(f"f{i}", "email_stem", "stem-farm", 1, 10_000_000 + 900 * i)
>>> for i in range(400):  # everybody else, over a year, each with a stem of their own
...     b.add_account(f"u{i:03d}", {"created_at": 86_400 * (i % 365)})
...     b.add_link(f"u{i:03d}", "email_stem", f"stem-{i}", 1, 86_400 * (i % 365))
>>> stem_runs(b.build()).nnz  # 8 * 7 directed pairs
56
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.stats import binom

from ringwatch.detectors._common import group_pairs, symmetric_from_pairs
from ringwatch.detectors.snapshot import KIND_CODE, Snapshot


@dataclass(frozen=True)
class StemParams:
    """Windows in seconds; weights in units of one shared strong identifier (1.0)."""

    gap: int = 36 * 3600  # a stem's signups closer than this belong to one session
    gap_share: float = 0.25  # ... and closer than this share of the stem's mean interval
    min_gap: int = 3600
    min_size: int = 5  # accounts in a session of one stem to call it a run
    joint_min_size: int = 3  # ... of one stem and one phone window
    alpha: float = 1e-4  # surprise (tail x possible sessions) at which a session is a run
    cap: int = 400  # larger sessions are not pairwise-linked (quadratic)
    weight: float = 0.5  # at the threshold, + weight_per_decade per decade beyond
    weight_per_decade: float = 0.1
    max_weight: float = 1.2

    def validate(self) -> None:
        if min(self.gap, self.min_gap) <= 0 or self.gap_share <= 0:
            raise ValueError("gaps must be positive")
        if min(self.min_size, self.joint_min_size, self.cap) < 2:
            raise ValueError("run sizes and cap must allow at least 2 accounts")
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must be in (0, 1)")


@dataclass(frozen=True)
class _Keyed:
    """One (account, key) per entry: key = a stem column, or a (stem, window) pair."""

    rows: np.ndarray  # int64 account rows
    keys: np.ndarray  # int64 key per entry (dense 0..n_keys-1)
    share: np.ndarray  # float per key: its chance for one unrelated signup
    clock: np.ndarray  # sorted creation times of the accounts that could carry a key


def _runs(snapshot: Snapshot, keyed: _Keyed, min_size: int, params: StemParams) -> sp.csr_matrix:
    """Pairs of accounts of one key's improbable sessions, weighted by the surprise."""
    n = snapshot.n_accounts
    if keyed.rows.shape[0] < min_size:
        return sp.csr_matrix((n, n))
    created = snapshot.created_at[keyed.rows]
    order = np.lexsort((keyed.rows, created, keyed.keys))
    rows, keys, created = keyed.rows[order], keyed.keys[order], created[order]
    span = max(int(keyed.clock[-1] - keyed.clock[0]), params.gap)
    per_key = np.bincount(keys).astype(np.float64)
    gap = np.clip(params.gap_share * span / np.maximum(per_key, 1), params.min_gap, params.gap)
    new = np.r_[True, (keys[1:] != keys[:-1]) | (np.diff(created) > gap[keys][1:])]
    session = np.cumsum(new) - 1
    size = np.bincount(session)
    first = np.flatnonzero(new)
    last = np.r_[first[1:], rows.shape[0]] - 1
    start = created[first]
    duration = np.maximum(created[last] - start, gap[keys[first]])
    # Signups (with a key of this family) in the session's span: the draws of the null.
    drawn = np.searchsorted(keyed.clock, start + duration, side="right") - np.searchsorted(
        keyed.clock, start, side="left"
    )
    drawn = np.maximum(drawn, size)
    trials = np.maximum(span / duration, 1.0)
    tail = binom.sf(size - 1, drawn, np.minimum(keyed.share[keys[first]], 1.0))
    surprise = np.maximum(tail * trials, 1e-300)
    # Every key that could hold a run is a test of its own: among a million mailboxes some
    # common name's owners will open five of them on one day somewhere, so a run must be
    # improbable for the whole deployment, not for its key alone.
    tested = max(int((per_key >= min_size).sum()), 1)
    run = (size >= min_size) & (size <= params.cap) & (surprise * tested <= params.alpha)
    weight = np.minimum(
        params.weight + params.weight_per_decade * np.log10(params.alpha / surprise),
        params.max_weight,
    )
    inside = run[session]
    left, right = group_pairs(session[inside], rows[inside])
    of_pair, _ = group_pairs(session[inside], session[inside])
    return _strongest(left, right, weight[of_pair], n)


def _strongest(left: np.ndarray, right: np.ndarray, w: np.ndarray, n: int) -> sp.csr_matrix:
    """Symmetric matrix keeping each pair's largest weight (two keys may hold one pair)."""
    if left.shape[0] == 0:
        return sp.csr_matrix((n, n))
    lo, hi = np.minimum(left, right), np.maximum(left, right)
    pair = lo * n + hi
    order = np.lexsort((-w, pair))
    pair, w = pair[order], w[order]
    keep = np.r_[True, pair[1:] != pair[:-1]]
    return symmetric_from_pairs(pair[keep] // n, pair[keep] % n, w[keep], n)


def _kind_links(snapshot: Snapshot, kind: str) -> sp.csr_matrix:
    """Accounts x identifiers of one kind (binary), columns renumbered 0..k-1."""
    cols = np.flatnonzero(snapshot.identifier_kind == KIND_CODE[kind])
    sub = snapshot.links_by_identifier[:, cols].tocsr()
    sub.data = np.ones_like(sub.data)
    return sub


def _shares(links: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """(per column: share of the accounts with any such link, rows with any link)."""
    carriers = np.flatnonzero(np.diff(links.indptr) > 0)
    degree = np.diff(links.tocsc().indptr).astype(np.float64)
    return degree / max(carriers.shape[0], 1), carriers


def stem_keys(snapshot: Snapshot) -> _Keyed:
    stems = _kind_links(snapshot, "email_stem")
    share, carriers = _shares(stems)
    coo = stems.tocoo()
    return _Keyed(
        rows=coo.row.astype(np.int64),
        keys=coo.col.astype(np.int64),
        share=share,
        clock=np.sort(snapshot.created_at[carriers]),
    )


def joint_keys(snapshot: Snapshot) -> _Keyed:
    """(stem, phone window) per account holding both, with the product of their shares."""
    stems = _kind_links(snapshot, "email_stem")
    windows = _kind_links(snapshot, "phone_run")
    stem_share, stem_rows = _shares(stems)
    window_share, window_rows = _shares(windows)
    both = np.intersect1d(stem_rows, window_rows)
    s = stems[both].tocoo()
    w = windows[both].tocsr()
    per = np.diff(w.indptr)[s.row]
    local = np.repeat(s.row, per)
    starts = np.repeat(w.indptr[s.row], per)
    offset = np.arange(local.shape[0]) - np.repeat(np.cumsum(per) - per, per)
    window = w.indices[starts + offset].astype(np.int64)
    stem = np.repeat(s.col.astype(np.int64), per)
    raw = stem * max(windows.shape[1], 1) + window
    unique, keys = np.unique(raw, return_inverse=True)
    width = max(windows.shape[1], 1)
    share = stem_share[unique // width] * window_share[unique % width]
    return _Keyed(
        rows=both[local].astype(np.int64),
        keys=keys.astype(np.int64),
        share=share,
        clock=np.sort(snapshot.created_at[both]),
    )


def stem_runs(snapshot: Snapshot, params: StemParams = StemParams()) -> sp.csr_matrix:
    """Symmetric account x account weights of stem runs and joint (stem, phone window) runs:
    each pair's strongest link (see module doc)."""
    params.validate()
    n = snapshot.n_accounts
    alone = _runs(snapshot, stem_keys(snapshot), params.min_size, params)
    joint = _runs(snapshot, joint_keys(snapshot), params.joint_min_size, params)
    both = alone.maximum(joint).tocsr()
    return both if both.shape == (n, n) else sp.csr_matrix((n, n))
