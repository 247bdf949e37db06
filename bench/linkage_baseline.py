"""The Fellegi-Sunter linker as it was before the per-record encoding (commit fa03b46), kept as
bench/linkage.py's baseline. Every comparison and blocking key worked on the text columns of
each pair (object-array equality, string-joined blocking keys, a Python loop per postcode pair,
a term-frequency dict look-up per pair) and the q-gram sketches and phonetic codes were built
per record. The model and its results are the same as ringwatch/detectors/linkage.py's (its
fit, ported here with each change to the estimation, most recently the training blocks counted
at their full size and tied fields left out of their blocks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from ringwatch.detectors.behaviour import _band_keys

MISSING = -1  # a comparison level meaning "either side unknown": weight 0
LSH_BANDS, LSH_ROWS = 8, 4


@dataclass(frozen=True)
class LinkRecords:
    """Aligned per-record arrays; "" (or an all-zero sketch row) means unknown.

    Names are split into given and surname; each carries an exact key, a phonetic key and a
    MinHash sketch of its q-grams (the caller may pass keyed hashes instead of text: only
    equality is used). `identifiers` is a binary (n, n_identifiers) matrix, `identifier_kind`
    the kind name of each column.
    """

    given: np.ndarray
    given_phonetic: np.ndarray
    given_sketch: np.ndarray
    surname: np.ndarray
    surname_phonetic: np.ndarray
    surname_sketch: np.ndarray
    birthdate: np.ndarray  # object[str] YYYY-MM-DD
    email_local: np.ndarray
    email_sketch: np.ndarray
    city: np.ndarray
    postcode: np.ndarray
    country: np.ndarray
    identifiers: sp.csr_matrix
    identifier_kind: np.ndarray  # object[str] per column
    # What the surname slot holds: "name" when only a whole-name sketch is kept (a snapshot).
    surname_label: str = "surname"
    # MinHash of the city's q-grams (None: not kept, the city is compared exactly only).
    city_sketch: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.given.shape[0])


@dataclass(frozen=True)
class LinkParams:
    """Blocking, EM and decision settings."""

    top_k: int = 3
    min_probability: float = 0.5  # a "match" for decisions; lower-ranked candidates still listed
    bucket_cap: int = 200  # a blocking key shared by more banned records is too common to block on
    identifier_cap: int = 20  # an identifier shared by more accounts is a hub, not a person
    random_pairs: int = 200_000  # for u
    em_iterations: int = 25
    em_tolerance: float = 1e-5
    fuzzy_high: float = 0.6  # MinHash Jaccard levels for names
    fuzzy_low: float = 0.35
    email_fuzzy: float = 0.5
    tf_fields: tuple[str, ...] = ("given", "surname", "city", "postcode", "birthdate")
    training_rules: tuple[str, ...] = ("birthdate", "surname", "given", "postcode")
    training_cap: int = 2_000  # values shared by more banned records do not train
    training_pairs: int = 100_000  # per training block, sampled beyond
    tie_ratio: float = 3.0
    tie_support: int = 5
    seed: int = 0


# "swapped": this name agrees with the other record's *other* name (given and surname entered in
# the other order, as many forms and many naming traditions make people do).
NAME_LEVELS = ("else", "swapped", "fuzzy", "fuzzy_close", "phonetic", "exact")
BIRTHDATE_LEVELS = ("else", "year_only", "one_part_off", "day_month_swapped", "exact")
EMAIL_LEVELS = ("else", "fuzzy", "exact")
EXACT_LEVELS = ("else", "exact")
# A town typed with a typo ("leicjhardt"); a postcode with one digit wrong or two swapped.
CITY_LEVELS = ("else", "fuzzy", "exact")
POSTCODE_LEVELS = ("else", "one_char_off", "exact")
SHARED_LEVELS = ("none", "shared")


@dataclass(frozen=True)
class Model:
    """Fitted m and u per comparison and level, the match prior, and term frequencies."""

    comparisons: tuple[str, ...]
    levels: Mapping[str, tuple[str, ...]]
    m: Mapping[str, np.ndarray]
    u: Mapping[str, np.ndarray]
    prior: float
    iterations: int
    term_freq: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def bayes_factors(self, name: str) -> np.ndarray:
        return np.asarray(np.log2(self.m[name] / self.u[name]), dtype=np.float64)


@dataclass(frozen=True)
class Links:
    """Top-k candidates per returner as parallel arrays, best first within each query."""

    query: np.ndarray
    banned: np.ndarray
    weight: np.ndarray  # match weight, log2 Bayes factor including the prior
    probability: np.ndarray
    rank: np.ndarray
    levels: np.ndarray  # int8 (n, n_comparisons), MISSING for unknown
    model: Model

    def explain(self, i: int) -> dict[str, Any]:
        """The comparison levels and each one's partial weight, for investigators."""
        out: dict[str, Any] = {
            "match_weight": round(float(self.weight[i]), 3),
            "match_probability": round(float(self.probability[i]), 6),
        }
        levels: dict[str, Any] = {}
        for c, name in enumerate(self.model.comparisons):
            lv = int(self.levels[i, c])
            if lv == MISSING:
                continue
            levels[name] = {
                "level": self.model.levels[name][lv],
                "weight": round(float(self.model.bayes_factors(name)[lv]), 3),
            }
        out["levels"] = levels
        return out


# ---------------------------------------------------------------- normalising helpers


def soundex(text: str) -> str:
    """American Soundex: names that sound alike ('Catherine', 'Kathryn') share a code."""
    letters = [c for c in text.lower() if "a" <= c <= "z"]
    if not letters:
        return ""
    codes = {**dict.fromkeys("bfpv", "1"), **dict.fromkeys("cgjkqsxz", "2")}
    codes.update({**dict.fromkeys("dt", "3"), "l": "4", **dict.fromkeys("mn", "5"), "r": "6"})
    out = [letters[0].upper()]
    last = codes.get(letters[0], "")
    for c in letters[1:]:
        code = codes.get(c, "")
        if code and code != last:
            out.append(code)
        if c not in "hw":  # h and w do not separate equal codes; vowels do
            last = code
    return ("".join(out) + "000")[:4]


def qgram_sketch(values: np.ndarray, size: int = 32, q: int = 2, seed: int = 0) -> np.ndarray:
    """MinHash (size columns) of padded q-gram sets; all-zero rows for empty values.

    Gram hashes come from a seeded table lookup (not Python's salted `hash`), so the sketch is
    the same in every process; a deployment uses the keyed `Pseudonymiser.sketch` instead.
    """
    import hashlib

    prime = (1 << 31) - 1
    rng = np.random.default_rng(seed)
    a = rng.integers(1, prime, size=size, dtype=np.int64).astype(np.uint64)
    b = rng.integers(0, prime, size=size, dtype=np.int64).astype(np.uint64)
    out = np.zeros((len(values), size), dtype=np.uint32)
    cache: dict[str, int] = {}
    for i, v in enumerate(values):
        text = str(v)
        if not text:
            continue
        padded = f"^{text}$"
        grams = {padded[j : j + q] for j in range(max(1, len(padded) - q + 1))}
        base = []
        for g in grams:
            h = cache.get(g)
            if h is None:
                digest = hashlib.blake2b(g.encode(), digest_size=8, salt=seed.to_bytes(8, "little"))
                h = cache[g] = int.from_bytes(digest.digest(), "little") % prime
            base.append(h)
        arr = np.asarray(base, dtype=np.uint64)
        out[i] = ((arr[:, None] * a[None, :] + b[None, :]) % prime).min(axis=0) + 1
    return out


# ---------------------------------------------------------------- comparisons


def _sketch_sim(sketch: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    a, b = sketch[left], sketch[right]
    return np.asarray((a == b).mean(axis=1), dtype=np.float64)


def _known(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return np.asarray(values[rows] != "", dtype=bool)


def _name_levels(
    exact: np.ndarray,
    phonetic: np.ndarray,
    sketch: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    params: LinkParams,
    other: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Levels of one name field; `other` is the right side's other name field (exact,
    phonetic, sketch), for the swapped level. Sketches of both fields must share their hash
    permutations for that (a deployment's keyed sketch does: one key for every name)."""
    known = _known(exact, left) & _known(exact, right)
    sim = _sketch_sim(sketch, left, right)
    phon = (phonetic[left] == phonetic[right]) & (phonetic[left] != "")
    swapped = np.zeros(left.shape[0], dtype=bool)
    if other is not None:
        o_exact, o_phon, o_sketch = other
        cross_sim = np.asarray((sketch[left] == o_sketch[right]).mean(axis=1), dtype=np.float64)
        swapped = (
            (exact[left] == o_exact[right])
            | ((phonetic[left] == o_phon[right]) & (phonetic[left] != ""))
            | (cross_sim >= params.fuzzy_high)
        ) & (o_exact[right] != "")
    out = np.select(
        [
            exact[left] == exact[right],
            phon,
            sim >= params.fuzzy_high,
            sim >= params.fuzzy_low,
            swapped,
        ],
        [5, 4, 3, 2, 1],
        0,
    )
    return np.where(known, out, MISSING).astype(np.int8)


def _date_parts(dates: np.ndarray) -> np.ndarray:
    """(n, 3) int year, month, day; -1 where unknown or malformed."""
    out = np.full((dates.shape[0], 3), -1, dtype=np.int64)
    text = np.asarray(dates, dtype=object).astype(str)
    ok = (np.char.str_len(text) == 10) & np.char.isdigit(np.char.replace(text, "-", ""))
    if ok.any():
        t = text[ok]
        out[ok, 0] = np.char.ljust(t, 4).astype("U4").astype(np.int64)
        out[ok, 1] = np.array([s[5:7] for s in t], dtype=np.int64)
        out[ok, 2] = np.array([s[8:10] for s in t], dtype=np.int64)
    return out


def _birthdate_levels(parts: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    a, b = parts[left], parts[right]
    known = (a[:, 0] >= 0) & (b[:, 0] >= 0)
    eq = a == b
    same = eq.sum(axis=1)
    swapped = eq[:, 0] & (a[:, 1] == b[:, 2]) & (a[:, 2] == b[:, 1]) & ~eq[:, 1]
    out = np.select([same == 3, swapped, same == 2, eq[:, 0]], [4, 3, 2, 1], 0)
    return np.where(known, out, MISSING).astype(np.int8)


def _email_levels(
    local: np.ndarray, sketch: np.ndarray, left: np.ndarray, right: np.ndarray, params: LinkParams
) -> np.ndarray:
    known = _known(local, left) & _known(local, right)
    sim = _sketch_sim(sketch, left, right)
    out = np.select([local[left] == local[right], sim >= params.email_fuzzy], [2, 1], 0)
    return np.where(known, out, MISSING).astype(np.int8)


def _exact_levels(values: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    known = _known(values, left) & _known(values, right)
    return np.where(known, (values[left] == values[right]).astype(np.int8), MISSING).astype(np.int8)


def _city_levels(
    records: LinkRecords, left: np.ndarray, right: np.ndarray, params: LinkParams
) -> np.ndarray:
    exact = _exact_levels(records.city, left, right)
    if records.city_sketch is None:
        return exact
    sim = _sketch_sim(records.city_sketch, left, right)
    out = np.where(exact == 1, 2, np.where(sim >= params.fuzzy_high, 1, 0))
    return np.where(exact == MISSING, MISSING, out).astype(np.int8)


def _one_char_off(a: str, b: str) -> bool:
    """Same length and one position differs, or two adjacent positions swapped."""
    if len(a) != len(b) or a == b:
        return False
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    if len(diff) == 1:
        return True
    return (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and a[diff[0]] == b[diff[1]]
        and a[diff[1]] == b[diff[0]]
    )


def _postcode_levels(values: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    exact = _exact_levels(values, left, right)
    out = np.where(exact == 1, 2, 0).astype(np.int8)
    check = np.flatnonzero(exact == 0)
    if check.shape[0]:
        a, b = values[left[check]], values[right[check]]
        near = np.fromiter(
            (_one_char_off(str(x), str(y)) for x, y in zip(a.tolist(), b.tolist(), strict=True)),
            dtype=bool,
            count=check.shape[0],
        )
        out[check[near]] = 1
    return np.where(exact == MISSING, MISSING, out).astype(np.int8)


def _identifier_levels(
    records: LinkRecords, kind: str, left: np.ndarray, right: np.ndarray
) -> np.ndarray:
    cols = np.flatnonzero(records.identifier_kind == kind)
    sub = sp.csr_matrix(records.identifiers[:, cols], dtype=np.float32)
    has = np.asarray(sub.getnnz(axis=1) > 0)
    shared = np.asarray(sub[left].multiply(sub[right]).sum(axis=1)).ravel() > 0
    known = has[left] & has[right]
    return np.where(known, shared.astype(np.int8), MISSING).astype(np.int8)


def comparison_spec(records: LinkRecords) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(comparison name, level names) in column order; identifier kinds present in the data."""
    spec: list[tuple[str, tuple[str, ...]]] = [
        ("given", NAME_LEVELS),
        (records.surname_label, NAME_LEVELS),
        ("birthdate", BIRTHDATE_LEVELS),
        ("email_local", EMAIL_LEVELS),
        ("city", CITY_LEVELS if records.city_sketch is not None else EXACT_LEVELS),
        ("postcode", POSTCODE_LEVELS),
        ("country", EXACT_LEVELS),
    ]
    for kind in sorted(set(records.identifier_kind.tolist())):
        spec.append((f"shared_{kind}", SHARED_LEVELS))
    return tuple(spec)


def compare(
    records: LinkRecords, left: np.ndarray, right: np.ndarray, params: LinkParams
) -> np.ndarray:
    """Comparison levels (n_pairs, n_comparisons) int8, columns as `comparison_spec`."""
    parts = _date_parts(records.birthdate)
    cols = [
        _name_levels(
            records.given,
            records.given_phonetic,
            records.given_sketch,
            left,
            right,
            params,
            (records.surname, records.surname_phonetic, records.surname_sketch),
        ),
        _name_levels(
            records.surname,
            records.surname_phonetic,
            records.surname_sketch,
            left,
            right,
            params,
            (records.given, records.given_phonetic, records.given_sketch),
        ),
        _birthdate_levels(parts, left, right),
        _email_levels(records.email_local, records.email_sketch, left, right, params),
        _city_levels(records, left, right, params),
        _postcode_levels(records.postcode, left, right),
        _exact_levels(records.country, left, right),
    ]
    for name, _ in comparison_spec(records)[7:]:
        cols.append(_identifier_levels(records, name.removeprefix("shared_"), left, right))
    return np.stack(cols, axis=1) if cols else np.zeros((left.shape[0], 0), np.int8)


# ---------------------------------------------------------------- blocking


def _block_keys(records: LinkRecords, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(key, row) pairs for the blocking rules; keys prefixed by rule so rules never collide."""
    year = np.array([str(d)[:4] for d in records.birthdate[rows]], dtype=object)
    rules: list[tuple[str, np.ndarray]] = [
        ("sp", records.surname_phonetic[rows]),
        ("bd", records.birthdate[rows]),
        ("gy", _joined(records.given_phonetic[rows], year)),
        ("yc", _joined(year, records.city[rows])),
        ("pc", _joined(records.postcode[rows], records.given_phonetic[rows])),
        ("ps", _joined(records.postcode[rows], records.surname_phonetic[rows])),
        ("el", records.email_local[rows]),
        # Both names' codes in sorted order: the same key when given and surname are swapped.
        ("nn", _unordered(records.given_phonetic[rows], records.surname_phonetic[rows])),
    ]
    for label, sketch in (("ns", records.surname_sketch), ("es", records.email_sketch)):
        # MinHash bands: names one typo apart share a band with high probability, so the
        # fuzzy levels get candidates even when the phonetic code changed.
        known = sketch[rows].any(axis=1)
        bands = _band_keys(sketch[rows], LSH_BANDS, LSH_ROWS)
        for j in range(LSH_BANDS):
            v = np.where(known, bands[:, j].astype(str), "")
            rules.append((f"{label}{j}", v.astype(object)))
    keys, owners = [], []
    for prefix, values in rules:
        v = np.asarray(values, dtype=object).astype(str)
        ok = v != ""
        keys.append(np.char.add(f"{prefix}:", v[ok]))
        owners.append(rows[ok])
    return np.concatenate(keys), np.concatenate(owners).astype(np.int64)


def _joined(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, dtype=object).astype(str), np.asarray(b, dtype=object).astype(str)
    both = (a != "") & (b != "")
    return np.where(both, np.char.add(np.char.add(a, "|"), b), "")


def _unordered(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, dtype=object).astype(str), np.asarray(b, dtype=object).astype(str)
    first = a <= b
    return _joined(np.where(first, a, b), np.where(first, b, a))


def _join(
    bkeys: np.ndarray, bown: np.ndarray, qkeys: np.ndarray, qown: np.ndarray, cap: int
) -> tuple[np.ndarray, np.ndarray]:
    """(query, banned) owner pairs with equal keys; keys held by more than `cap` banned skipped."""
    _, codes = np.unique(np.concatenate([bkeys, qkeys]), return_inverse=True)
    bc, qc = codes[: bkeys.shape[0]], codes[bkeys.shape[0] :]
    order = np.argsort(bc, kind="stable")
    bc, bown = bc[order], bown[order]
    lo = np.searchsorted(bc, qc, side="left")
    hi = np.searchsorted(bc, qc, side="right")
    count = hi - lo
    count[count > cap] = 0
    left = np.repeat(qown, count)
    first = np.repeat(lo, count)
    offset = np.arange(left.shape[0]) - np.repeat(np.cumsum(count) - count, count)
    return left.astype(np.int64), bown[first + offset].astype(np.int64)


def training_pairs(
    records: LinkRecords, rule: str, queries: np.ndarray, banned: np.ndarray, params: LinkParams
) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Pairs agreeing exactly on `rule`'s field, drawn from all pairs rather than the blocked
    ones: inside the prediction blocks the other fields agree more than at random (that is why
    the pairs were blocked), which would break u; here they agree only by chance. Also the
    block's size before sampling and the share of agreeable queries whose value trains."""
    values = np.asarray(_field(records, rule), dtype=object).astype(str)
    bk, qk = values[banned], values[queries]
    bo, qo = banned[bk != ""], queries[qk != ""]
    left, right = _join(bk[bk != ""], bo, qk[qk != ""], qo, params.training_cap)
    keep = left != right
    left, right = left[keep], right[keep]
    pairs = int(left.shape[0])
    if left.shape[0] > params.training_pairs:
        rng = np.random.default_rng(params.seed + 1)
        pick = np.sort(rng.choice(left.shape[0], params.training_pairs, replace=False))
        left, right = left[pick], right[pick]
    held_values, held_counts = np.unique(bk[bk != ""], return_counts=True)
    held = dict(zip(held_values.tolist(), held_counts.tolist(), strict=True))
    counts = np.array([held.get(v, 0) for v in qk[qk != ""].tolist()], dtype=np.int64)
    counts = counts[counts > 0]
    covered = float((counts <= params.training_cap).mean()) if counts.shape[0] else 0.0
    return left, right, pairs, covered


def tied_fields(
    records: LinkRecords, banned: np.ndarray, params: LinkParams
) -> dict[str, set[str]]:
    """ringwatch.detectors.linkage.tied_fields on the text columns (same pairs, same answer)."""
    rng = np.random.default_rng(params.seed + 2)
    size = params.random_pairs
    if banned.shape[0] < 2:
        return {}
    lo, ro = rng.choice(banned, size=size), rng.choice(banned, size=size)
    keep = lo != ro
    lo, ro = lo[keep], ro[keep]
    names = {name for name, _ in comparison_spec(records)}
    coded = ("given", "surname", "birthdate", "email_local", "city", "postcode", "country")
    fields = [f if f != "surname" else records.surname_label for f in coded]
    agree: dict[str, np.ndarray] = {}
    for f in fields:
        if f in names:
            values = np.asarray(_field(records, f), dtype=object)
            agree[f] = (values[lo] == values[ro]) & (values[lo] != "")
    out: dict[str, set[str]] = {}
    for rule in params.training_rules:
        rule = records.surname_label if rule == "surname" else rule
        if rule not in agree:
            continue
        on_rule = agree[rule]
        n_rule = int(on_rule.sum())
        tied = set()
        for f, a in agree.items():
            if f == rule:
                continue
            both = int((a & on_rule).sum())
            if both >= params.tie_support and both >= params.tie_ratio * n_rule * float(a.mean()):
                tied.add(f)
        out[rule] = tied
    return out


def block(
    records: LinkRecords, queries: np.ndarray, banned: np.ndarray, params: LinkParams
) -> tuple[np.ndarray, np.ndarray]:
    """Unique candidate (query, banned) pairs: equal blocking keys, or a shared identifier."""
    bkeys, bown = _block_keys(records, banned)
    qkeys, qown = _block_keys(records, queries)
    left, right = _join(bkeys, bown, qkeys, qown, params.bucket_cap)
    if records.identifiers.shape[1]:
        ids = sp.csr_matrix(records.identifiers, dtype=np.float32)
        degree = np.asarray(ids.getnnz(axis=0))
        cols = np.flatnonzero((degree >= 2) & (degree <= params.identifier_cap))
        sub = ids[:, cols].tocsr()
        shared = (sub[queries] @ sub[banned].T).tocoo()
        left = np.concatenate([left, queries[shared.row]])
        right = np.concatenate([right, banned[shared.col]])
    n = np.int64(records.n)
    pair = np.unique(left.astype(np.int64) * n + right.astype(np.int64))
    q, b = pair // n, pair % n
    keep = q != b
    return q[keep], b[keep]


# ---------------------------------------------------------------- estimation


def _level_counts(levels: np.ndarray, n_levels: int, weights: np.ndarray | None) -> np.ndarray:
    ok = levels != MISSING
    return np.bincount(
        levels[ok].astype(np.int64),
        weights=None if weights is None else weights[ok],
        minlength=n_levels,
    ).astype(np.float64)


def estimate_u(
    records: LinkRecords, left: np.ndarray, right: np.ndarray, params: LinkParams
) -> dict[str, np.ndarray]:
    """u per level from random (left, right) pairs: almost all of them are different people."""
    rng = np.random.default_rng(params.seed)
    size = params.random_pairs
    lo = rng.choice(left, size=size) if left.shape[0] else left
    ro = rng.choice(right, size=size) if right.shape[0] else right
    keep = lo != ro
    levels = compare(records, lo[keep], ro[keep], params)
    out: dict[str, np.ndarray] = {}
    for c, (name, names) in enumerate(comparison_spec(records)):
        counts = _level_counts(levels[:, c], len(names), None) + 0.5  # never a zero u
        out[name] = counts / counts.sum()
    return out


def _initial_m(names: tuple[str, ...]) -> np.ndarray:
    """Matches mostly agree: most mass on the top level, decreasing below."""
    k = len(names)
    m = np.geomspace(0.02, 1.0, k) if k > 1 else np.ones(1)
    return np.asarray(m / m.sum(), dtype=np.float64)


def _em(
    levels: np.ndarray,
    spec: tuple[tuple[str, tuple[str, ...]], ...],
    m: dict[str, np.ndarray],
    u: Mapping[str, np.ndarray],
    skip: set[str],
    params: LinkParams,
) -> tuple[dict[str, np.ndarray], float, int]:
    """EM for m and the match share on one training block, u fixed, `skip` comparisons out."""
    m = {k: v.copy() for k, v in m.items()}
    share = 0.1
    it = 0
    for it in range(1, params.em_iterations + 1):  # noqa: B007 (returned)
        logit = np.full(levels.shape[0], np.log(share / (1 - share)))
        for c, (name, _) in enumerate(spec):
            if name in skip:
                continue
            lv = levels[:, c]
            ok = lv != MISSING
            logit[ok] += np.log(m[name] / u[name])[lv[ok]]
        post = 1.0 / (1.0 + np.exp(-np.clip(logit, -50, 50)))
        new_share = float(np.clip(post.mean(), 1e-9, 1 - 1e-9))
        delta = abs(new_share - share)
        for c, (name, names) in enumerate(spec):
            if name in skip:
                continue
            counts = _level_counts(levels[:, c], len(names), post) + 1e-3
            new_m = counts / counts.sum()
            delta = max(delta, float(np.abs(new_m - m[name]).max()))
            m[name] = new_m
        share = new_share
        if delta < params.em_tolerance:
            break
    return m, share, it


def fit(
    records: LinkRecords,
    queries: np.ndarray,
    banned: np.ndarray,
    u: Mapping[str, np.ndarray],
    params: LinkParams,
) -> Model:
    """ringwatch.detectors.linkage.fit: m by EM on training blocks (tied fields left out),
    matches counted at each block's full size, the prior over pairs with the field known."""
    spec = comparison_spec(records)
    names = [name for name, _ in spec]
    init = {name: _initial_m(lv) for name, lv in spec}
    sums: dict[str, np.ndarray] = {name: np.zeros(len(lv)) for name, lv in spec}
    counts: dict[str, float] = dict.fromkeys(names, 0.0)
    fitted: list[tuple[str, float, float]] = []
    tied = tied_fields(records, banned, params)
    iterations = 0
    for rule in params.training_rules:
        if rule == "surname":
            rule = records.surname_label
        if rule not in names:
            continue
        tl, tr, pairs, covered = training_pairs(records, rule, queries, banned, params)
        if tl.shape[0] < 10:
            continue
        block_levels = compare(records, tl, tr, params)
        skip = {rule, *tied.get(rule, set())}
        m, share, it = _em(block_levels, spec, init, u, skip, params)
        iterations = max(iterations, it)
        matches = share * float(pairs)
        fitted.append((rule, matches, covered))
        for name in names:
            if name not in skip:
                sums[name] += matches * m[name]
                counts[name] += matches
    final = {
        name: (sums[name] / counts[name]) if counts[name] > 0 else init[name] for name in names
    }
    priors = []
    for rule, matches, covered in fitted:
        values = np.asarray(_field(records, rule), dtype=object).astype(str)
        known = float((values[queries] != "").sum()) * float((values[banned] != "").sum())
        priors.append(matches / max(float(final[rule][-1]) * covered, 1e-3) / max(known, 1.0))
    possible = float(queries.shape[0]) * float(banned.shape[0])
    prior = float(np.median(priors)) if priors else 1.0 / max(possible, 1.0)
    prior = float(np.clip(prior, 1e-12, 0.5))
    return Model(
        comparisons=tuple(names),
        levels={name: lv for name, lv in spec},
        m=final,
        u=dict(u),
        prior=prior,
        iterations=iterations,
        term_freq=_term_frequencies(records, params),
    )


def _field(records: LinkRecords, name: str) -> np.ndarray:
    """A record column by comparison name (the surname slot may be labelled "name")."""
    return np.asarray(getattr(records, "surname" if name == records.surname_label else name))


def _term_frequencies(records: LinkRecords, params: LinkParams) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name in params.tf_fields:
        if name == "surname":
            name = records.surname_label
        values = np.asarray(_field(records, name), dtype=object).astype(str)
        values = values[values != ""]
        if values.shape[0] == 0:
            continue
        uniq, counts = np.unique(values, return_counts=True)
        out[name] = dict(zip(uniq.tolist(), (counts / values.shape[0]).tolist(), strict=True))
    return out


def score(
    records: LinkRecords, model: Model, left: np.ndarray, right: np.ndarray, levels: np.ndarray
) -> np.ndarray:
    """Match weight per pair: prior log-odds plus each comparison's log2(m/u); for an exact
    agreement on a tf field, u is the value's own frequency (a common surname agrees by chance
    more often than the average surname)."""
    weight = np.full(levels.shape[0], np.log2(model.prior / (1 - model.prior)))
    for c, name in enumerate(model.comparisons):
        lv = levels[:, c]
        ok = lv != MISSING
        bf = model.bayes_factors(name)
        weight[ok] += bf[lv[ok]]
        freq = model.term_freq.get(name)
        if freq is None:
            continue
        top = len(model.levels[name]) - 1
        exact = np.flatnonzero(lv == top)
        if exact.shape[0] == 0:
            continue
        values = np.asarray(_field(records, name), dtype=object)[left[exact]].astype(str)
        tf = np.array([freq.get(v, 0.0) for v in values.tolist()])
        u_exact = model.u[name][top]
        tf = np.maximum(tf, 1e-6)
        weight[exact] += np.log2(u_exact / tf)
    return weight


# ---------------------------------------------------------------- the whole run


def link(
    records: LinkRecords,
    queries: np.ndarray,
    banned: np.ndarray,
    params: LinkParams = LinkParams(),
    *,
    created_at: np.ndarray | None = None,
    banned_at: np.ndarray | None = None,
) -> Links:
    """Top-k banned candidates per query row, with match weight, probability and levels.

    With `created_at` and `banned_at` (per record), a query only links to accounts banned
    before it was created: an account cannot be the return of a ban that came later.
    """
    queries = np.asarray(queries, dtype=np.int64)
    banned = np.asarray(banned, dtype=np.int64)
    q, b = block(records, queries, banned, params)
    if created_at is not None and banned_at is not None:
        after = created_at[q] > banned_at[b]
        q, b = q[after], b[after]
    u = estimate_u(records, queries, banned, params)
    levels = compare(records, q, b, params)
    model = fit(records, queries, banned, u, params)
    weight = score(records, model, q, b, levels)
    order = np.lexsort((b, -weight, q))
    q, b, weight, levels = q[order], b[order], weight[order], levels[order]
    if q.shape[0]:
        start = np.r_[True, q[1:] != q[:-1]]
        group = np.maximum.accumulate(np.where(start, np.arange(q.shape[0]), 0))
        rank = np.arange(q.shape[0]) - group
    else:
        rank = np.zeros(0, np.int64)
    keep = rank < params.top_k
    w = weight[keep]
    return Links(
        query=q[keep],
        banned=b[keep],
        weight=w,
        probability=1.0 / (1.0 + np.exp2(-np.clip(w, -60, 60))),
        rank=rank[keep].astype(np.int64),
        levels=levels[keep],
        model=model,
    )


def records_from_fields(
    n: int | None = None,
    *,
    identifiers: sp.csr_matrix | None = None,
    identifier_kind: np.ndarray | None = None,
    sketches: Mapping[str, np.ndarray] | None = None,
    seed: int = 0,
    **fields: Any,
) -> LinkRecords:
    """LinkRecords from normalised text columns (tests, benchmarks): phonetic codes and q-gram
    sketches are derived here; a deployment passes keyed hashes and keyed sketches instead."""
    size = n if n is not None else len(next(iter(fields.values())))

    def col(name: str) -> np.ndarray:
        values = fields.get(name)
        if values is None:
            return np.full(size, "", dtype=object)
        return np.asarray([str(v) if v is not None else "" for v in values], dtype=object)

    given, surname = col("given"), col("surname")
    email = col("email_local")
    sk = dict(sketches or {})
    return LinkRecords(
        given=given,
        given_phonetic=np.array([soundex(v) for v in given], dtype=object),
        given_sketch=sk.get("given", qgram_sketch(given, seed=seed)),
        surname=surname,
        surname_phonetic=np.array([soundex(v) for v in surname], dtype=object),
        # One set of permutations for both names, as the keyed sketch has, so a given name can
        # be compared with a surname (the swapped level).
        surname_sketch=sk.get("surname", qgram_sketch(surname, seed=seed)),
        birthdate=col("birthdate"),
        email_local=email,
        email_sketch=sk.get("email_local", qgram_sketch(email, seed=seed + 2)),
        city=col("city"),
        postcode=col("postcode"),
        city_sketch=sk.get("city", qgram_sketch(col("city"), seed=seed + 3)),
        country=col("country"),
        identifiers=(
            identifiers if identifiers is not None else sp.csr_matrix((size, 0), dtype=np.int8)
        ),
        identifier_kind=(
            identifier_kind if identifier_kind is not None else np.zeros(0, dtype=object)
        ),
    )


def score_pairs(
    records: LinkRecords, model: Model, left: np.ndarray, right: np.ndarray, params: LinkParams
) -> Links:
    """The fitted model applied to given pairs (ranks all 0): evidence for pairs found another
    way, e.g. by the identifier-based evader matcher."""
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    levels = compare(records, left, right, params)
    w = score(records, model, left, right, levels)
    return Links(
        query=left,
        banned=right,
        weight=w,
        probability=1.0 / (1.0 + np.exp2(-np.clip(w, -60, 60))),
        rank=np.zeros(left.shape[0], dtype=np.int64),
        levels=levels,
        model=model,
    )
