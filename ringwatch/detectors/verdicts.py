"""Per-ring features, a score in [0, 1], a verdict and the evidence an investigator reads.

The score is a hand-set logistic model over interpretable features rather than a trained one:
there are no trustworthy labels yet, and every coefficient has to be defensible to the person
whose account is restricted. What separates fraud from look-alikes:
- families share a tablet and a home IP but are few, created over years, of different ages;
- offices and campuses share only IPs/subnets (weak evidence), at any size;
- fraud rings share strong identifiers across many accounts, or register in bursts, act in
  lockstep, reuse email templates, and collect bans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ringwatch.detectors._common import STRONG, binary_links, check_snapshot
from ringwatch.detectors.snapshot import KIND_CODE, KINDS, NOT_BANNED, Snapshot

FRAUD = "fraud"
SUSPICIOUS = "suspicious"
BENIGN = "benign"
FEATURES = (
    "size", "density", "strong_coverage", "strong_kinds", "identifier_reuse", "burst",
    "banned_share", "age_spread", "country_diversity", "behaviour_coverage", "evader_share",
    "weak_only",
)


@dataclass(frozen=True)
class VerdictParams:
    """Logistic coefficients (per feature) and the verdict thresholds on the score."""

    bias: float = -3.5
    strong_coverage: float = 2.0  # share of members sharing a strong identifier in the ring
    strong_kinds: float = 0.8  # per extra strong kind shared (device AND card AND phone...)
    log_size: float = 1.0  # per doubling above 6 members (beyond any family), capped
    max_log_size: float = 4.0
    burst: float = 2.5  # share of members created within `burst_window` of the ring median
    banned_share: float = 3.0
    behaviour_coverage: float = 2.5
    evader_share: float = 2.0
    age_spread: float = -1.5  # birth-year spread of 15+ years: a household, not a farm
    weak_only: float = -1.5
    burst_window: int = 3 * 86400
    fraud_threshold: float = 0.7
    suspicious_threshold: float = 0.4


def _ring_index(n: int, rings: list[np.ndarray]) -> np.ndarray:
    ring_of = np.full(n, -1, dtype=np.int64)
    for r, rows in enumerate(rings):
        if (ring_of[rows] >= 0).any():
            raise ValueError("rings must not overlap")
        ring_of[rows] = r
    return ring_of


def ring_features(
    snapshot: Snapshot,
    rings: list[np.ndarray],
    *,
    identifier_cols: np.ndarray,
    soft: sp.csr_matrix,
    weights: sp.csr_matrix,
    evader_rows: np.ndarray,
    burst_window: int = 3 * 86400,
) -> dict[str, np.ndarray]:
    """Feature arrays (one value per ring, names in FEATURES), all computed with sparse ops.

    `identifier_cols`: the columns counted as evidence (under their hub caps); `soft`: behaviour
    links; `weights`: the full weighted graph the communities came from; `evader_rows`: accounts
    with an evader match.
    """
    snapshot = check_snapshot(snapshot)
    n, r_count = snapshot.n_accounts, len(rings)
    ring_of = _ring_index(n, rings)
    size = np.array([r.shape[0] for r in rings], dtype=np.float64)
    inside = np.flatnonzero(ring_of >= 0)
    member = sp.csr_matrix(
        (np.ones(inside.shape[0]), (ring_of[inside], inside)), shape=(r_count, n)
    )
    bip = binary_links(snapshot)[:, identifier_cols].tocsr()
    per_ring = (member @ bip).tocsr()  # rings x identifiers: members using it
    kinds = snapshot.identifier_kind[identifier_cols].astype(np.int64)
    strong_codes = np.array([KIND_CODE[k] for k in STRONG])
    is_strong = np.isin(kinds, strong_codes)

    # Which members share a strong identifier with another member of their ring.
    coo = bip.tocoo()
    rr = ring_of[coo.row]
    ok = (rr >= 0) & is_strong[coo.col]
    count = np.asarray(per_ring[rr[ok], coo.col[ok]]).ravel()
    covered = np.zeros(n, bool)
    covered[coo.row[ok][count >= 2]] = True
    strong_coverage = np.bincount(ring_of[inside], covered[inside], r_count) / size

    pr = per_ring.tocoo()
    shared = pr.data >= 2
    strong_shared = shared & is_strong[pr.col]
    n_strong = np.bincount(pr.row[strong_shared], minlength=r_count)
    kind_pairs = np.unique(pr.row[strong_shared] * 16 + kinds[pr.col[strong_shared]])
    strong_kinds = np.bincount(kind_pairs // 16, minlength=r_count).astype(np.float64)

    def internal(mat: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        c = sp.triu(mat, k=1).tocoo()
        same = (ring_of[c.row] >= 0) & (ring_of[c.row] == ring_of[c.col])
        edges = np.bincount(ring_of[c.row[same]], minlength=r_count).astype(np.float64)
        touched = np.zeros(n, bool)
        touched[c.row[same]] = True
        touched[c.col[same]] = True
        return edges, np.bincount(ring_of[inside], touched[inside], r_count) / size

    edges, _ = internal(weights)
    _, behaviour_coverage = internal(soft)
    density = edges / np.maximum(size * (size - 1) / 2, 1)

    created = snapshot.created_at
    ring_inside = ring_of[inside]
    order = np.lexsort((created[inside], ring_inside))
    sorted_rows = inside[order]
    starts = np.searchsorted(ring_inside[order], np.arange(r_count))
    median = created[sorted_rows[starts + (size.astype(np.int64) - 1) // 2]]
    near = np.abs(created[inside] - median[ring_inside]) <= burst_window
    burst = np.bincount(ring_inside, near, r_count) / size

    banned = snapshot.banned_at[inside] != NOT_BANNED
    banned_share = np.bincount(ring_inside, banned, r_count) / size
    is_evader = np.zeros(n, bool)
    is_evader[evader_rows] = True
    evader_share = np.bincount(ring_inside, is_evader[inside], r_count) / size

    years = np.array([int(b[:4]) if len(b) >= 4 and b[:4].isdigit() else -1
                      for b in snapshot.birthdate[inside]], dtype=np.float64)
    known = years > 0
    k = np.bincount(ring_inside, known, r_count)
    s1 = np.bincount(ring_inside, np.where(known, years, 0), r_count)
    s2 = np.bincount(ring_inside, np.where(known, years**2, 0), r_count)
    mean = s1 / np.maximum(k, 1)
    std = np.sqrt(np.maximum(s2 / np.maximum(k, 1) - mean**2, 0))
    age_spread = np.where(k >= 2, np.minimum(std / 15.0, 1.0), 0.0)

    country = snapshot.country[inside].astype(str)
    codes = np.unique(country, return_inverse=True)[1]
    has = country != ""
    pairs = np.unique(ring_inside[has] * (codes.max() + 1 if codes.size else 1) + codes[has])
    distinct = np.bincount(pairs // (codes.max() + 1 if codes.size else 1), minlength=r_count)
    country_diversity = np.where(size > 1, (distinct - 1) / np.maximum(size - 1, 1), 0.0)

    weak_only = ((n_strong == 0) & (behaviour_coverage == 0)).astype(np.float64)
    reuse = n_strong / size
    return {
        "size": size, "density": density, "strong_coverage": strong_coverage,
        "strong_kinds": strong_kinds, "identifier_reuse": reuse, "burst": burst,
        "banned_share": banned_share, "age_spread": age_spread,
        "country_diversity": country_diversity, "behaviour_coverage": behaviour_coverage,
        "evader_share": evader_share, "weak_only": weak_only,
    }


def score_rings(features: dict[str, np.ndarray], params: VerdictParams = VerdictParams()
                ) -> np.ndarray:
    """Logistic score in [0, 1] per ring.

    >>> f = {k: np.zeros(1) for k in FEATURES}
    >>> f["size"] = np.array([4.0]); f["strong_coverage"] = np.array([1.0])
    >>> f["strong_kinds"] = np.array([1.0]); f["age_spread"] = np.array([1.0])
    >>> float(score_rings(f)[0]) < 0.4  # a family: few, strong links, different ages
    True
    """
    missing = set(FEATURES) - set(features)
    if missing:
        raise ValueError(f"missing features {sorted(missing)}")
    f = features
    log_size = np.clip(np.log2(np.maximum(f["size"], 1) / 6.0), -1.0, params.max_log_size)
    z = (
        params.bias
        + params.strong_coverage * f["strong_coverage"]
        + params.strong_kinds * np.maximum(f["strong_kinds"] - 1, 0)
        + params.log_size * log_size
        + params.burst * f["burst"]
        + params.banned_share * f["banned_share"]
        + params.behaviour_coverage * f["behaviour_coverage"]
        + params.evader_share * f["evader_share"]
        + params.age_spread * f["age_spread"]
        + params.weak_only * f["weak_only"]
    )
    return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)


def verdict_of(score: float, params: VerdictParams = VerdictParams()) -> str:
    if not 0.0 <= score <= 1.0:
        raise ValueError("score must be in [0, 1]")
    if score >= params.fraud_threshold:
        return FRAUD
    return SUSPICIOUS if score >= params.suspicious_threshold else BENIGN


def ring_evidence(
    snapshot: Snapshot,
    rows: np.ndarray,
    features: dict[str, float],
    *,
    identifier_cols: np.ndarray,
    soft_kinds: dict[str, sp.csr_matrix],
    max_identifiers: int = 20,
) -> dict[str, Any]:
    """What a reviewer needs to check the verdict: shared identifiers (kind, hashed key, how
    many members use it), the creation window, the banned members, link types present."""
    sub = snapshot.links[rows][:, identifier_cols]
    counts = np.diff(sub.tocsc().indptr)
    shared = np.flatnonzero(counts >= 2)
    cols = identifier_cols[shared]
    kinds = snapshot.identifier_kind[cols].astype(np.int64)
    # Strong kinds first, then most members, then key: a stable, readable order.
    strong = np.isin(kinds, [KIND_CODE[k] for k in STRONG])
    order = np.lexsort((snapshot.identifiers[cols].astype(str), -counts[shared], ~strong))
    idents = [
        {"kind": KINDS[int(kinds[i])].value, "key": str(snapshot.identifiers[cols[i]]),
         "members": int(counts[shared[i]])}
        for i in order[:max_identifiers].tolist()
    ]
    link_types: dict[str, int] = {}
    for i in range(kinds.shape[0]):
        name = KINDS[int(kinds[i])].value
        link_types[name] = link_types.get(name, 0) + 1
    for name, mat in soft_kinds.items():
        internal = int(mat[rows][:, rows].nnz // 2)
        if internal:
            link_types[name] = internal
    created = snapshot.created_at[rows]
    banned = rows[snapshot.banned_at[rows] != NOT_BANNED]
    return {
        "shared_identifiers": idents,
        "link_types": dict(sorted(link_types.items())),
        "created_window": {
            "first": int(created.min()),
            "last": int(created.max()),
            "p10": int(np.percentile(created, 10)),
            "p90": int(np.percentile(created, 90)),
        },
        "banned_members": sorted(str(a) for a in snapshot.accounts[banned]),
        "features": {k: round(float(v), 4) for k, v in sorted(features.items())},
    }
