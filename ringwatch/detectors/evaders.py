"""Repeat offenders: accounts created after a ban, matched against the banned accounts.

Never all pairs. Candidates come from (a) strong identifiers shared with a banned account,
through the sparse link matrix (an inverted index identifier -> accounts), hubs above a cap
ignored, and (b) LSH banding of the name and email-local sketches, where only banned accounts are
indexed, so the index stays small however many accounts are queried. Candidates are then scored
on all the evidence together: people who come back keep *some* of their old identity (one
device, a card, a phone, their name with a typo, their birthdate) and change the rest, so no
single field decides, and one shared device alone (a family tablet) is not enough.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from ringwatch.detectors._common import (
    STRONG_CODES,
    binary_links,
    check_snapshot,
    column_caps,
    identifier_degree,
)
from ringwatch.detectors.behaviour import _band_keys, sketch_similarity_rows
from ringwatch.detectors.snapshot import KIND_CODE, KINDS, NOT_BANNED, Snapshot


@dataclass(frozen=True)
class EvaderParams:
    """Score = sum of evidence points; a match needs `min_score` points (see module doc)."""

    kind_points: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType(
            {"device": 0.5, "card": 0.6, "phone": 0.6, "email": 0.9}
        )
    )
    max_identifier_degree: int = 20  # shared with more accounts than this: a hub, not a person
    # An identifier used by exactly two accounts, the banned one and one created after the ban:
    # a handover across the ban, not a household device that many use side by side.
    handover_points: float = 0.3
    # Names and email local parts are usually derived from each other (jane.doe87), so the text
    # evidence is the better of the two, never their sum.
    name_points: float = 0.6  # times the name-sketch similarity, when it is >= name_floor
    name_floor: float = 0.4
    email_points: float = 0.4  # times the email-local similarity, when it is >= email_floor
    email_floor: float = 0.5
    birthdate_exact_points: float = 0.4
    # One digit off, day and month swapped, a day off, or the same day a year off.
    birthdate_typo_points: float = 0.3
    # Ban evaders come back fast (hours to days): a candidate that already shares something
    # with the banned account (an identifier, or name and birthdate) and was created within
    # `return_window` of its ban gains points.
    # A relative who happens to sign up on the family tablet is not timed by someone's ban.
    return_points: float = 0.25
    # Same declared country: alone it means nothing, on top of a birthdate it narrows a lot.
    country_points: float = 0.1
    return_window: int = 7 * 86400
    min_score: float = 0.7
    top_k: int = 3
    bands: int = 8
    rows_per_band: int = 4
    bucket_cap: int = 50  # LSH buckets shared by more banned accounts are common names


@dataclass(frozen=True)
class EvaderMatches:
    """Ranked matches as parallel arrays: query row, banned row, score in [0, 1], rank (0 best).

    `points` is the raw evidence sum; score = 1 - exp(-points) keeps ranking and maps to [0, 1].
    """

    query: np.ndarray
    banned: np.ndarray
    points: np.ndarray
    score: np.ndarray
    rank: np.ndarray
    name_similarity: np.ndarray
    email_similarity: np.ndarray
    birthdate: np.ndarray  # int8: 0 different/unknown, 1 typo, 2 exact
    identifier_points: np.ndarray  # the part of `points` from shared strong identifiers

    def credible(self) -> np.ndarray:
        """Matches resting on more than a look-alike profile: a shared strong identifier or
        the exact birthdate. A similar name with a birthdate one digit off is worth ranking
        for an investigator, but common names make it too weak to count against a group."""
        return np.asarray((self.identifier_points > 0) | (self.birthdate == 2), dtype=bool)

    def evidence(self, snapshot: Snapshot, i: int) -> dict[str, Any]:
        """Which identifiers and fields matched for match `i` (for investigators)."""
        q, b = int(self.query[i]), int(self.banned[i])
        links = snapshot.links
        qi = links.indices[links.indptr[q] : links.indptr[q + 1]]
        bi = links.indices[links.indptr[b] : links.indptr[b + 1]]
        shared = np.intersect1d(qi, bi)
        strong = shared[np.isin(snapshot.identifier_kind[shared], STRONG_CODES)]
        return {
            "identifiers": [
                {
                    "kind": KINDS[int(snapshot.identifier_kind[j])].value,
                    "key": str(snapshot.identifiers[j]),
                }
                for j in strong.tolist()
            ],
            "name_similarity": round(float(self.name_similarity[i]), 3),
            "email_similarity": round(float(self.email_similarity[i]), 3),
            "birthdate": ("different", "typo", "exact")[int(self.birthdate[i])],
        }


def _digits(birthdate: np.ndarray) -> np.ndarray:
    """(n, 8) digits of YYYYMMDD, -1 everywhere when unknown or malformed."""
    out = np.full((birthdate.shape[0], 8), -1, dtype=np.int8)
    text = np.char.replace(birthdate.astype("U10"), "-", "")
    ok = np.char.str_len(text) == 8
    ok &= np.char.isdigit(text)
    if ok.any():
        codes = np.frombuffer(text[ok].astype("S8").tobytes(), dtype=np.uint8).reshape(-1, 8)
        out[ok] = (codes - ord("0")).astype(np.int8)
    return out


def birthdate_match(digits: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """0 different or unknown, 1 typo (one digit, or day/month swapped), 2 exact."""
    a, b = digits[left], digits[right]
    known = (a[:, 0] >= 0) & (b[:, 0] >= 0)
    diff = (a != b).sum(axis=1)
    swapped = (
        (a[:, :4] == b[:, :4]).all(axis=1)
        & (a[:, 4:6] == b[:, 6:8]).all(axis=1)
        & (a[:, 6:8] == b[:, 4:6]).all(axis=1)
    )
    days_a, days_b = _days(a), _days(b)
    gap = np.abs(days_a - days_b)
    near = (gap <= 1) | (np.abs(gap - 365) <= 1)
    out = np.where(diff == 0, 2, np.where((diff == 1) | swapped | near, 1, 0))
    return np.where(known, out, 0).astype(np.int8)


def _days(digits: np.ndarray) -> np.ndarray:
    """Approximate day number from YYYYMMDD digits (exact enough for 'a day or a year off')."""
    d = digits.astype(np.int64)
    year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
    month = d[:, 4] * 10 + d[:, 5]
    day = d[:, 6] * 10 + d[:, 7]
    cumulative = np.array([0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334])
    return np.asarray(year * 365 + cumulative[np.clip(month, 0, 12)] + day, dtype=np.int64)


def _birthdate_candidates(
    birthdate: np.ndarray, queries: np.ndarray, banned: np.ndarray, params: EvaderParams
) -> tuple[np.ndarray, np.ndarray]:
    """Blocking on the declared birthdate (as is, or with day and month swapped), the
    classic record-linkage block: people who come back keep their birthdate more often than
    their exact name, whose sketch may then be too far off for LSH to propose the pair.
    Dates shared by more than `bucket_cap` banned accounts (January 1st) are skipped."""
    text = np.asarray(birthdate, dtype=object).astype(str)
    known_b = banned[np.char.str_len(text[banned]) == 10]
    known_q = queries[np.char.str_len(text[queries]) == 10]
    if known_b.shape[0] == 0 or known_q.shape[0] == 0:
        e = np.zeros(0, np.int64)
        return e, e
    as_is = text[known_b]
    swapped = np.char.add(
        np.char.add(np.char.add([t[:5] for t in as_is], [t[8:10] for t in as_is]), "-"),
        [t[5:7] for t in as_is],
    )
    _, codes = np.unique(np.concatenate([as_is, swapped, text[known_q]]), return_inverse=True)
    nb = known_b.shape[0]
    bkeys = codes[: 2 * nb].astype(np.uint64)
    bowner = np.concatenate([known_b, known_b])
    # A date equal to its own swap (03-03) must not list the same banned account twice.
    first = np.r_[np.ones(nb, bool), swapped != as_is]
    bkeys, bowner = bkeys[first], bowner[first]
    order = np.argsort(bkeys, kind="stable")
    return _bucket_lookup(
        bkeys[order], bowner[order], codes[2 * nb :].astype(np.uint64), known_q, params
    )


def _bucket_lookup(
    bkeys: np.ndarray,
    bowner: np.ndarray,
    qkeys: np.ndarray,
    qowner: np.ndarray,
    params: EvaderParams,
) -> tuple[np.ndarray, np.ndarray]:
    """(query, banned) pairs whose keys are equal; `bkeys` sorted; big buckets skipped."""
    lo = np.searchsorted(bkeys, qkeys, side="left")
    hi = np.searchsorted(bkeys, qkeys, side="right")
    count = hi - lo
    count[count > params.bucket_cap] = 0
    left = np.repeat(qowner, count)
    first = np.repeat(lo, count)
    offset = np.arange(left.shape[0]) - np.repeat(np.cumsum(count) - count, count)
    return left, bowner[first + offset]


def _lsh_candidates(
    sketch: np.ndarray, queries: np.ndarray, banned: np.ndarray, params: EvaderParams
) -> tuple[np.ndarray, np.ndarray]:
    banned = banned[sketch[banned].any(axis=1)]
    queries = queries[sketch[queries].any(axis=1)]
    if banned.shape[0] == 0 or queries.shape[0] == 0:
        e = np.zeros(0, np.int64)
        return e, e
    bkeys = _band_keys(sketch[banned], params.bands, params.rows_per_band).ravel()
    bowner = np.repeat(banned, params.bands)
    order = np.argsort(bkeys, kind="stable")
    bkeys, bowner = bkeys[order], bowner[order]
    qkeys = _band_keys(sketch[queries], params.bands, params.rows_per_band).ravel()
    qowner = np.repeat(queries, params.bands)
    return _bucket_lookup(bkeys, bowner, qkeys, qowner, params)


def match_evaders(snapshot: Snapshot, params: EvaderParams = EvaderParams()) -> EvaderMatches:
    """Rank banned accounts each later-created account may continue (best first, top_k).

    >>> from ringwatch.detectors.snapshot import SnapshotBuilder
    >>> b = SnapshotBuilder()
    >>> b.add_account("old", {"created_at": 10, "banned_at": 20, "birthdate": "1990-01-02"})
    >>> b.add_account("new", {"created_at": 30, "birthdate": "1990-02-01"})
    >>> for a in ("old", "new"):
    ...     b.add_link(a, "card", "c1", 1, 0)
    >>> m = match_evaders(b.build())
    >>> (m.query.tolist(), m.banned.tolist(), round(float(m.points[0]), 2))
    ([0], [1], 1.45)
    """
    snapshot = check_snapshot(snapshot)
    if params.top_k < 1 or params.min_score <= 0:
        raise ValueError("top_k must be >= 1 and min_score > 0")
    unknown = set(params.kind_points) - set(KIND_CODE)
    if unknown:
        raise ValueError(f"unknown identifier kinds {sorted(unknown)}")
    n = snapshot.n_accounts
    banned = np.flatnonzero(snapshot.banned_at != NOT_BANNED).astype(np.int64)
    empty = np.zeros(0, np.int64)
    if banned.shape[0] == 0:
        return _empty()
    first_ban = int(snapshot.banned_at[banned].min())
    queries = np.flatnonzero(snapshot.created_at > first_ban).astype(np.int64)
    if queries.shape[0] == 0:
        return _empty()

    # (a) shared strong identifiers, weighted per kind, via sparse products.
    degree = identifier_degree(snapshot)
    points = np.zeros(len(KIND_CODE))
    for kind, p in params.kind_points.items():
        points[KIND_CODE[kind]] = p
    col_points = points[snapshot.identifier_kind.astype(np.int64)]
    cap = column_caps(snapshot, {k: params.max_identifier_degree for k in params.kind_points})
    cols = np.flatnonzero((col_points > 0) & (degree >= 2) & (degree <= cap))
    bip = binary_links(snapshot)[:, cols].tocsr()
    col_bonus = col_points[cols] + np.where(degree[cols] == 2, params.handover_points, 0.0)
    shared = (bip[queries].multiply(col_bonus[None, :]).tocsr() @ bip[banned].T).tocoo()
    sq, sb, spts = queries[shared.row], banned[shared.col], shared.data.astype(np.float64)

    # (b) LSH on sketches and (c) blocking on the birthdate; only banned accounts are indexed.
    nq, nb = _lsh_candidates(snapshot.name_sketch, queries, banned, params)
    eq, eb = _lsh_candidates(snapshot.email_sketch, queries, banned, params)
    dq, db = _birthdate_candidates(snapshot.birthdate, queries, banned, params)
    pair = np.unique(np.concatenate([sq * n + sb, nq * n + nb, eq * n + eb, dq * n + db]))
    q, b = pair // n, pair % n
    valid = (q != b) & (snapshot.created_at[q] > snapshot.banned_at[b])
    q, b, pair = q[valid], b[valid], pair[valid]
    if q.shape[0] == 0:
        return _empty()

    strong_pts = np.zeros(q.shape[0])
    spair = sq * n + sb
    pos = np.searchsorted(pair, spair)
    hit = (pos < pair.shape[0]) & (pair[np.minimum(pos, pair.shape[0] - 1)] == spair)
    np.add.at(strong_pts, pos[hit], spts[hit])
    name_sim = sketch_similarity_rows(snapshot.name_sketch, q, b)
    email_sim = sketch_similarity_rows(snapshot.email_sketch, q, b)
    bday = birthdate_match(_digits(snapshot.birthdate), q, b)
    text = np.maximum(
        np.where(name_sim >= params.name_floor, params.name_points * name_sim, 0.0),
        np.where(email_sim >= params.email_floor, params.email_points * email_sim, 0.0),
    )
    total = (
        strong_pts
        + text
        + np.where(
            bday == 2,
            params.birthdate_exact_points,
            np.where(bday == 1, params.birthdate_typo_points, 0.0),
        )
    )
    soon = (snapshot.created_at[q] - snapshot.banned_at[b]) <= params.return_window
    # "Shares something": a strong identifier, or the same person on paper (a name or email
    # like theirs AND their birthdate), which strangers rarely match within days of a ban.
    same_country = (snapshot.country[q] == snapshot.country[b]) & (snapshot.country[q] != "")
    profile = ((text > 0) & (bday > 0)) | ((bday == 2) & same_country)
    total = total + np.where(soon & ((strong_pts > 0) | profile), params.return_points, 0.0)
    total = total + np.where(same_country & (bday > 0), params.country_points, 0.0)
    ok = total >= params.min_score
    q, b, total, strong_pts = q[ok], b[ok], total[ok], strong_pts[ok]
    name_sim, email_sim, bday = name_sim[ok], email_sim[ok], bday[ok]
    # Rank within each query: best points first, then the most recent ban, then row for ties.
    order = np.lexsort((b, -snapshot.banned_at[b], -total, q))
    q, b, total, strong_pts = q[order], b[order], total[order], strong_pts[order]
    name_sim, email_sim, bday = name_sim[order], email_sim[order], bday[order]
    start = np.r_[True, q[1:] != q[:-1]] if q.shape[0] else np.zeros(0, bool)
    group_start = np.maximum.accumulate(np.where(start, np.arange(q.shape[0]), 0))
    rank = np.arange(q.shape[0]) - group_start if q.shape[0] else empty
    keep = rank < params.top_k
    return EvaderMatches(
        query=q[keep],
        banned=b[keep],
        points=total[keep],
        score=1.0 - np.exp(-total[keep]),
        rank=rank[keep].astype(np.int64),
        name_similarity=name_sim[keep],
        email_similarity=email_sim[keep],
        birthdate=bday[keep],
        identifier_points=strong_pts[keep],
    )


def _empty() -> EvaderMatches:
    e = np.zeros(0, np.int64)
    f = np.zeros(0, np.float64)
    return EvaderMatches(e, e, f, f, e, f, f, np.zeros(0, np.int8), f)
