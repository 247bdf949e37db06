"""Fellegi-Sunter record linkage of returners (new accounts) against banned accounts.

A person who comes back after a ban keeps *parts* of their old identity: their name with a typo,
their birthdate with day and month swapped, their town spelled differently, one device or card.
Fellegi-Sunter weighs each field's agreement level by how much likelier it is among true matches
(m) than among random pairs (u): log2(m/u) summed over fields is the match weight, so a rare
surname agreeing counts more than "Smith" agreeing (term-frequency adjustment), and missing
fields count nothing. u comes from random pairs, m from EM on the blocked pairs of the
deployment's own data; nothing is hand-tuned per field.

Cost: banned records are indexed by blocking keys (phonetic surname, birthdate, birth year and
city, postcode, shared identifier); each returner only looks up its own keys, and keys shared by
more than `bucket_cap` banned records are skipped, so work grows with the returners. Each text
column is encoded once per record set (integer codes, "" as -1; date parts; postcode characters),
so comparing a pair is array arithmetic on codes, never a Python step per pair.

Pure and deterministic for a seed: no I/O, inputs are arrays built by the caller from what the
privacy design keeps (keyed hashes and keyed MinHash sketches, see docs/privacy.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
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
    # The columns as integer codes, built on first use (the arrays are not changed after).
    _encoded: dict[str, _Encoding] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def n(self) -> int:
        return int(self.given.shape[0])

    @property
    def encoded(self) -> _Encoding:
        enc = self._encoded.get("codes")
        if enc is None:
            enc = self._encoded["codes"] = _Encoding(self)
        return enc


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
    tie_ratio: float = 3.0  # see tied_fields
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
    Each distinct value is hashed once (names repeat).
    """
    import hashlib

    prime = (1 << 31) - 1
    rng = np.random.default_rng(seed)
    a = rng.integers(1, prime, size=size, dtype=np.int64).astype(np.uint64)
    b = rng.integers(0, prime, size=size, dtype=np.int64).astype(np.uint64)
    out = np.zeros((len(values), size), dtype=np.uint32)
    index: dict[str, int] = {"": -1}
    codes = np.fromiter(
        (index.setdefault(str(v), len(index) - 1) for v in np.asarray(values, dtype=object)),
        dtype=np.int64,
        count=len(values),
    )
    texts = list(index)[1:]
    if not texts:
        return out
    cache: dict[str, int] = {}
    salt = seed.to_bytes(8, "little")
    unique = np.zeros((len(texts), size), dtype=np.uint32)
    chunk = 4096  # distinct values per vectorised step: bounds the (grams, size) product
    for lo in range(0, len(texts), chunk):
        hashes: list[int] = []
        starts: list[int] = []
        for text in texts[lo : lo + chunk]:
            padded = f"^{text}$"
            starts.append(len(hashes))
            for g in {padded[j : j + q] for j in range(max(1, len(padded) - q + 1))}:
                h = cache.get(g)
                if h is None:
                    digest = hashlib.blake2b(g.encode(), digest_size=8, salt=salt)
                    h = cache[g] = int.from_bytes(digest.digest(), "little") % prime
                hashes.append(h)
        arr = np.asarray(hashes, dtype=np.uint64)
        mixed = (arr[:, None] * a[None, :] + b[None, :]) % prime
        unique[lo : lo + len(starts)] = np.minimum.reduceat(mixed, starts, axis=0) + 1
    known = codes >= 0
    out[known] = unique[codes[known]]
    return out


# ---------------------------------------------------------------- encoding


def _factorize(*columns: np.ndarray) -> tuple[list[np.ndarray], list[Any]]:
    """Integer codes shared by the columns (equal values, equal codes; "" is -1), and the value
    of each code. Python equality, as comparing the object arrays themselves would use."""
    index: dict[Any, int] = {"": -1}
    out = []
    for col in columns:
        values = np.asarray(col, dtype=object).tolist()
        out.append(
            np.fromiter(
                (index.setdefault(v, len(index) - 1) for v in values),
                dtype=np.int64,
                count=len(values),
            )
        )
    return out, list(index)[1:]


def _pair_codes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One code per (a, b) with both known, -1 otherwise."""
    width = np.int64(max(int(b.max(initial=-1)), 0) + 1)
    return np.where((a >= 0) & (b >= 0), a * width + b, -1)


class _Encoding:
    """Per-record codes of a LinkRecords' columns, each built once when first needed."""

    def __init__(self, records: LinkRecords) -> None:
        self._r = records

    @cached_property
    def _names(self) -> tuple[list[np.ndarray], list[Any]]:
        return _factorize(self._r.given, self._r.surname)

    @cached_property
    def names(self) -> tuple[np.ndarray, np.ndarray]:
        """Given and surname in one code space: the swapped level compares across them."""
        given, surname = self._names[0]
        return given, surname

    @cached_property
    def phonetic(self) -> tuple[np.ndarray, np.ndarray]:
        (given, surname), _ = _factorize(self._r.given_phonetic, self._r.surname_phonetic)
        return given, surname

    @cached_property
    def _birthdate(self) -> tuple[np.ndarray, list[Any]]:
        (codes,), values = _factorize(self._r.birthdate)
        return codes, values

    @cached_property
    def birthdate(self) -> np.ndarray:
        return self._birthdate[0]

    @cached_property
    def birth_year(self) -> np.ndarray:
        """Codes of the birthdate's first four characters."""
        codes, values = self._birthdate
        (years,), _ = _factorize(np.array([*(str(v)[:4] for v in values), ""], dtype=object))
        return np.asarray(years[codes])  # code -1 picks the appended "" (-1)

    @cached_property
    def date_parts(self) -> np.ndarray:
        codes, values = self._birthdate
        parts = _date_parts(np.array([*values, ""], dtype=object))
        return np.asarray(parts[codes])

    @cached_property
    def email_local(self) -> np.ndarray:
        return _factorize(self._r.email_local)[0][0]

    @cached_property
    def _city(self) -> tuple[list[np.ndarray], list[Any]]:
        return _factorize(self._r.city)

    @cached_property
    def city(self) -> np.ndarray:
        return self._city[0][0]

    @cached_property
    def country(self) -> np.ndarray:
        return _factorize(self._r.country)[0][0]

    @cached_property
    def _postcode(self) -> tuple[np.ndarray, list[Any]]:
        (codes,), values = _factorize(self._r.postcode)
        return codes, values

    @cached_property
    def postcode(self) -> np.ndarray:
        return self._postcode[0]

    @cached_property
    def postcode_chars(self) -> tuple[np.ndarray, np.ndarray]:
        """Per postcode code: its characters (zero-padded code points) and its length."""
        text = [str(v) for v in self._postcode[1]]
        width = max((len(t) for t in text), default=0)
        chars = np.zeros((len(text), max(width, 1)), dtype=np.uint32)
        for i, t in enumerate(text):
            chars[i, : len(t)] = [ord(c) for c in t]
        return chars, np.array([len(t) for t in text], dtype=np.int64)

    def field(self, name: str) -> np.ndarray:
        """Codes of a column by comparison name (the surname slot may be labelled "name")."""
        if name == "given":
            return self.names[0]
        if name in ("surname", self._r.surname_label):
            return self.names[1]
        out: np.ndarray = getattr(self, name)
        return out

    def values(self, name: str) -> list[Any]:
        """The value of each code of `field(name)`."""
        if name in ("given", "surname", self._r.surname_label):
            return self._names[1]
        if name == "birthdate":
            return self._birthdate[1]
        if name == "postcode":
            return self._postcode[1]
        if name == "city":
            return self._city[1]
        return _factorize(_field(self._r, name))[1]

    def identifiers(self, kind: str) -> tuple[sp.csr_matrix, np.ndarray]:
        """The columns of one identifier kind, and which records hold any."""
        key = f"ids:{kind}"
        cached = self.__dict__.get(key)
        if cached is None:
            cols = np.flatnonzero(self._r.identifier_kind == kind)
            sub = sp.csr_matrix(self._r.identifiers[:, cols], dtype=np.float32)
            cached = self.__dict__[key] = (sub, np.asarray(sub.getnnz(axis=1) > 0))
        return cached


# ---------------------------------------------------------------- comparisons


def _sketch_sim_where(
    need: np.ndarray,
    sketch: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    right_sketch: np.ndarray | None = None,
) -> np.ndarray:
    """Sketch similarity of the pairs in `need` (the right side read from `right_sketch` if
    given), 0 elsewhere: gathering two sketch rows per pair is most of a comparison's cost, and
    pairs already decided by a higher level never read it."""
    sim = np.zeros(left.shape[0], dtype=np.float64)
    if need.any():
        other = sketch if right_sketch is None else right_sketch
        a, b = sketch[left[need]], other[right[need]]
        sim[need] = (a == b).mean(axis=1)
    return sim


def _name_levels(
    exact: np.ndarray,
    phonetic: np.ndarray,
    sketch: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    params: LinkParams,
    other: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Levels of one name field (`exact` and `phonetic` are codes, -1 unknown); `other` is the
    right side's other name field (codes in the same code space, and sketch), for the swapped
    level. Sketches of both fields must share their hash permutations for that (a deployment's
    keyed sketch does: one key for every name)."""
    el, er = exact[left], exact[right]
    known = (el >= 0) & (er >= 0)
    same = el == er
    pl = phonetic[left]
    phon = (pl == phonetic[right]) & (pl >= 0)
    # Each level is computed only for the pairs no higher level has decided.
    undecided = known & ~same & ~phon
    sim = _sketch_sim_where(undecided, sketch, left, right)
    swapped = np.zeros(left.shape[0], dtype=bool)
    if other is not None:
        o_exact, o_phon, o_sketch = other
        oe = o_exact[right]
        swapped = ((el == oe) | ((pl == o_phon[right]) & (pl >= 0))) & (oe >= 0)
        cross = undecided & (sim < params.fuzzy_low) & (oe >= 0) & ~swapped
        swapped |= cross & (
            _sketch_sim_where(cross, sketch, left, right, o_sketch) >= params.fuzzy_high
        )
    out = np.select(
        [same, phon, sim >= params.fuzzy_high, sim >= params.fuzzy_low, swapped],
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
    cl, cr = local[left], local[right]
    known = (cl >= 0) & (cr >= 0)
    same = cl == cr
    sim = _sketch_sim_where(known & ~same, sketch, left, right)
    out = np.select([same, sim >= params.email_fuzzy], [2, 1], 0)
    return np.where(known, out, MISSING).astype(np.int8)


def _exact_levels(codes: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    cl, cr = codes[left], codes[right]
    known = (cl >= 0) & (cr >= 0)
    return np.where(known, (cl == cr).astype(np.int8), MISSING).astype(np.int8)


def _city_levels(
    records: LinkRecords, left: np.ndarray, right: np.ndarray, params: LinkParams
) -> np.ndarray:
    exact = _exact_levels(records.encoded.city, left, right)
    if records.city_sketch is None:
        return exact
    sim = _sketch_sim_where(exact == 0, records.city_sketch, left, right)
    out = np.where(exact == 1, 2, np.where(sim >= params.fuzzy_high, 1, 0))
    return np.where(exact == MISSING, MISSING, out).astype(np.int8)


def _one_char_off(
    chars: np.ndarray, length: np.ndarray, a: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """Per code pair (a, b) of different values: same length and one position differs, or two
    adjacent positions swapped."""
    x, y = chars[a], chars[b]
    diff = x != y
    n_diff = diff.sum(axis=1)
    first = diff.argmax(axis=1)
    last = diff.shape[1] - 1 - diff[:, ::-1].argmax(axis=1)
    rows = np.arange(a.shape[0])
    swapped = (
        (n_diff == 2)
        & (last == first + 1)
        & (x[rows, first] == y[rows, last])
        & (x[rows, last] == y[rows, first])
    )
    return np.asarray((length[a] == length[b]) & ((n_diff == 1) | swapped), dtype=bool)


def _postcode_levels(records: LinkRecords, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    codes = records.encoded.postcode
    exact = _exact_levels(codes, left, right)
    out = np.where(exact == 1, 2, 0).astype(np.int8)
    check = np.flatnonzero(exact == 0)
    if check.shape[0]:
        chars, length = records.encoded.postcode_chars
        near = _one_char_off(chars, length, codes[left[check]], codes[right[check]])
        out[check[near]] = 1
    return np.where(exact == MISSING, MISSING, out).astype(np.int8)


def _identifier_levels(
    records: LinkRecords, kind: str, left: np.ndarray, right: np.ndarray
) -> np.ndarray:
    sub, has = records.encoded.identifiers(kind)
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


COMPARE_CHUNK = 1 << 20  # pairs compared at once: bounds the gathered sketch rows' memory


def compare(
    records: LinkRecords, left: np.ndarray, right: np.ndarray, params: LinkParams
) -> np.ndarray:
    """Comparison levels (n_pairs, n_comparisons) int8, columns as `comparison_spec`."""
    if left.shape[0] > COMPARE_CHUNK:
        return np.concatenate(
            [
                _compare(records, left[i : i + COMPARE_CHUNK], right[i : i + COMPARE_CHUNK], params)
                for i in range(0, left.shape[0], COMPARE_CHUNK)
            ]
        )
    return _compare(records, left, right, params)


def _compare(
    records: LinkRecords, left: np.ndarray, right: np.ndarray, params: LinkParams
) -> np.ndarray:
    enc = records.encoded
    given, surname = enc.names
    given_phon, surname_phon = enc.phonetic
    cols = [
        _name_levels(
            given,
            given_phon,
            records.given_sketch,
            left,
            right,
            params,
            (surname, surname_phon, records.surname_sketch),
        ),
        _name_levels(
            surname,
            surname_phon,
            records.surname_sketch,
            left,
            right,
            params,
            (given, given_phon, records.given_sketch),
        ),
        _birthdate_levels(enc.date_parts, left, right),
        _email_levels(enc.email_local, records.email_sketch, left, right, params),
        _city_levels(records, left, right, params),
        _postcode_levels(records, left, right),
        _exact_levels(enc.country, left, right),
    ]
    for name, _ in comparison_spec(records)[7:]:
        cols.append(_identifier_levels(records, name.removeprefix("shared_"), left, right))
    return np.stack(cols, axis=1) if cols else np.zeros((left.shape[0], 0), np.int8)


# ---------------------------------------------------------------- blocking


def _block_keys(records: LinkRecords) -> list[np.ndarray]:
    """Per blocking rule, each record's key (-1 where the rule does not apply). A rule's keys
    are only ever compared with the same rule's, so rules never collide."""
    enc = records.encoded
    given_phon, surname_phon = enc.phonetic
    year = enc.birth_year
    rules = [
        surname_phon,
        enc.birthdate,
        _pair_codes(given_phon, year),
        _pair_codes(year, enc.city),
        _pair_codes(enc.postcode, given_phon),
        _pair_codes(enc.postcode, surname_phon),
        enc.email_local,
        # Both names' codes in sorted order: the same key when given and surname are swapped.
        _pair_codes(np.minimum(given_phon, surname_phon), np.maximum(given_phon, surname_phon)),
    ]
    for sketch in (records.surname_sketch, records.email_sketch):
        # MinHash bands: names one typo apart share a band with high probability, so the
        # fuzzy levels get candidates even when the phonetic code changed.
        known = sketch.any(axis=1)
        bands = _band_keys(sketch, LSH_BANDS, LSH_ROWS)
        for j in range(LSH_BANDS):
            _, codes = np.unique(bands[:, j], return_inverse=True)
            rules.append(np.where(known, codes.astype(np.int64), -1))
    return rules


def _join(
    bkeys: np.ndarray, bown: np.ndarray, qkeys: np.ndarray, qown: np.ndarray, cap: int
) -> tuple[np.ndarray, np.ndarray]:
    """(query, banned) owner pairs with equal keys; keys held by more than `cap` banned skipped.
    Pairs come in query order, then in banned order within a key."""
    order = np.argsort(bkeys, kind="stable")
    bc, bown = bkeys[order], bown[order]
    lo = np.searchsorted(bc, qkeys, side="left")
    hi = np.searchsorted(bc, qkeys, side="right")
    count = hi - lo
    count[count > cap] = 0
    left = np.repeat(qown, count)
    first = np.repeat(lo, count)
    offset = np.arange(left.shape[0]) - np.repeat(np.cumsum(count) - count, count)
    return left.astype(np.int64), bown[first + offset].astype(np.int64)


def _join_known(
    keys: np.ndarray, queries: np.ndarray, banned: np.ndarray, cap: int
) -> tuple[np.ndarray, np.ndarray]:
    """`_join` of the query and banned rows whose key is known (>= 0)."""
    bk, qk = keys[banned], keys[queries]
    return _join(bk[bk >= 0], banned[bk >= 0], qk[qk >= 0], queries[qk >= 0], cap)


@dataclass(frozen=True)
class TrainingBlock:
    """A training block's sampled pairs, and what the sample stands for: `pairs` (query,
    banned) pairs agreed on the field before sampling, and the share of the queries with a
    known value whose value was not skipped as too common (their matches are in no block)."""

    left: np.ndarray
    right: np.ndarray
    pairs: int
    covered: float


def training_pairs(
    records: LinkRecords, rule: str, queries: np.ndarray, banned: np.ndarray, params: LinkParams
) -> TrainingBlock:
    """Pairs agreeing exactly on `rule`'s field, drawn from all pairs rather than the blocked
    ones: inside the prediction blocks the other fields agree more than at random (that is why
    the pairs were blocked), which would break u; here they agree only by chance. Beyond
    `training_pairs` a uniform sample is kept; the block's full size is returned beside it."""
    codes = records.encoded.field(rule)
    left, right = _join_known(codes, queries, banned, params.training_cap)
    keep = left != right
    left, right = left[keep], right[keep]
    pairs = int(left.shape[0])
    if pairs > params.training_pairs:
        rng = np.random.default_rng(params.seed + 1)
        pick = np.sort(rng.choice(pairs, params.training_pairs, replace=False))
        left, right = left[pick], right[pick]
    qk, bk = codes[queries], codes[banned]
    qk, bk = qk[qk >= 0], bk[bk >= 0]
    held = np.bincount(bk, minlength=int(max(qk.max(initial=-1), bk.max(initial=-1))) + 1)
    # Of the queries that could agree with someone (their value is held by a banned record),
    # those whose value no block skipped.
    held = held[qk][held[qk] > 0]
    covered = float((held <= params.training_cap).mean()) if held.shape[0] else 0.0
    return TrainingBlock(left, right, pairs, covered)


def _known_pairs(records: LinkRecords, rule: str, queries: np.ndarray, banned: np.ndarray) -> float:
    """(query, banned) pairs with `rule`'s field known on both sides."""
    codes = records.encoded.field(rule)
    return float((codes[queries] >= 0).sum()) * float((codes[banned] >= 0).sum())


def block(
    records: LinkRecords, queries: np.ndarray, banned: np.ndarray, params: LinkParams
) -> tuple[np.ndarray, np.ndarray]:
    """Unique candidate (query, banned) pairs: equal blocking keys, or a shared identifier."""
    lefts, rights = [], []
    for keys in _block_keys(records):
        left, right = _join_known(keys, queries, banned, params.bucket_cap)
        lefts.append(left)
        rights.append(right)
    left, right = np.concatenate(lefts), np.concatenate(rights)
    if records.identifiers.shape[1]:
        ids = sp.csr_matrix(records.identifiers, dtype=np.float32)
        degree = np.asarray(ids.getnnz(axis=0))
        cols = np.flatnonzero((degree >= 2) & (degree <= params.identifier_cap))
        sub = ids[:, cols].tocsr()
        shared = (sub[queries] @ sub[banned].T).tocoo()
        left = np.concatenate([left, queries[shared.row]])
        right = np.concatenate([right, banned[shared.col]])
    n = np.int64(records.n)
    # Sorted and deduplicated by hand: numpy 2's hash-based np.unique took 0.7 s of the
    # 10k x 100k benchmark's 4 s here, sorting 0.04 s.
    pair = np.sort(left.astype(np.int64) * n + right.astype(np.int64))
    pair = pair[np.r_[True, pair[1:] != pair[:-1]]] if pair.shape[0] else pair
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


# Exact-agreement columns that can be compared on codes: the text comparisons.
_CODED = ("given", "surname", "birthdate", "email_local", "city", "postcode", "country")


def tied_fields(
    records: LinkRecords, banned: np.ndarray, params: LinkParams
) -> dict[str, set[str]]:
    """Per training rule, the comparisons whose exact agreement goes with the rule's among
    different people: a town and its postcode, a postcode and its region. Inside that rule's
    training block such a field agrees for non-matches too, which breaks EM's conditional
    independence (it calls the whole town a match), so it is left out there.

    Different people: random pairs of two banned accounts (new x banned pairs would hold the
    very matches being estimated, which agree on everything). Tied: pairs agreeing on the rule
    agree on the field at least `tie_ratio` times as often as pairs at large, seen at least
    `tie_support` times."""
    rng = np.random.default_rng(params.seed + 2)
    size = params.random_pairs
    if banned.shape[0] < 2:
        return {}
    lo, ro = rng.choice(banned, size=size), rng.choice(banned, size=size)
    keep = lo != ro
    lo, ro = lo[keep], ro[keep]
    names = {name for name, _ in comparison_spec(records)}
    fields = [f if f != "surname" else records.surname_label for f in _CODED]
    agree: dict[str, np.ndarray] = {}
    for f in fields:
        if f in names:
            codes = records.encoded.field(f)
            agree[f] = (codes[lo] == codes[ro]) & (codes[lo] >= 0)
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
            expected = n_rule * float(a.mean())
            if both >= params.tie_support and both >= params.tie_ratio * expected:
                tied.add(f)
        out[rule] = tied
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
    """m by EM on training blocks, u fixed from random pairs, as Splink trains.

    Each training block is the pairs agreeing exactly on one field (birthdate, surname,
    given name, postcode). Inside it, non-matches still disagree on the *other* fields at their
    random-pair rates, so u stays valid for those and EM separates the classes; the block's own
    field is left out (agreement there is forced, not evidence), and so are fields tied to it
    among non-matches (`tied_fields`: a postcode block agrees on the town for everyone). EM
    runs on a uniform sample of the block (`training_pairs`), whose match share estimates the
    whole block's: the block holds share * (pairs before sampling) matches. Each comparison's
    m is the mean over the blocks that did not leave it out, weighted by those matches.

    The prior ("probability two random records match", as Splink calls it) follows from the
    same fits: the matches in a block are the fraction m[field][exact] of the matches with the
    field known on both sides, less those whose value was too common to train on, so the
    block's estimate is its matches / (m[field][exact] * covered) over the pairs with the
    field known on both sides; the prior is the median over the blocks.
    """
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
        tb = training_pairs(records, rule, queries, banned, params)
        if tb.left.shape[0] < 10:
            continue
        block_levels = compare(records, tb.left, tb.right, params)
        skip = {rule, *tied.get(rule, set())}
        m, share, it = _em(block_levels, spec, init, u, skip, params)
        iterations = max(iterations, it)
        # Weighted by the block's estimated matches: a block where returners never agree
        # (everyone typos the surname) holds no matches, and what EM calls a class there is noise.
        matches = share * float(tb.pairs)
        fitted.append((rule, matches, tb.covered))
        for name in names:
            if name not in skip:
                sums[name] += matches * m[name]
                counts[name] += matches
    final = {
        name: (sums[name] / counts[name]) if counts[name] > 0 else init[name] for name in names
    }
    priors = [
        matches
        / max(float(final[rule][-1]) * covered, 1e-3)
        / max(_known_pairs(records, rule, queries, banned), 1.0)
        for rule, matches, covered in fitted
    ]
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
        codes = records.encoded.field(name)
        codes = codes[codes >= 0]
        if codes.shape[0] == 0:
            continue
        counts: dict[str, int] = {}
        for value, count in zip(
            records.encoded.values(name), np.bincount(codes).tolist(), strict=False
        ):
            if count:
                counts[str(value)] = counts.get(str(value), 0) + count
        keys = sorted(counts)
        freq = np.array([counts[k] for k in keys], dtype=np.int64) / codes.shape[0]
        out[name] = dict(zip(keys, freq.tolist(), strict=True))
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
        # One look-up per distinct value among the exact pairs, not one per pair.
        values = records.encoded.values(name)
        codes, pick = np.unique(records.encoded.field(name)[left[exact]], return_inverse=True)
        tf = np.array([freq.get(str(values[c]), 0.0) for c in codes.tolist()])[pick]
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

    >>> import numpy as np, scipy.sparse as sp
    >>> r = records_from_fields(
    ...     given=["jane", "jayne", "omar"], surname=["doe", "doe", "haddad"],
    ...     birthdate=["1990-03-04", "1990-04-03", "1971-01-01"])
    >>> out = link(r, np.array([1]), np.array([0, 2]), LinkParams(random_pairs=100))
    >>> (out.query.tolist(), out.banned.tolist(), out.explain(0)["levels"]["birthdate"]["level"])
    ([1], [0], 'day_month_swapped')
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
    codes = {v: soundex(v) for v in dict.fromkeys([*given.tolist(), *surname.tolist()])}
    return LinkRecords(
        given=given,
        given_phonetic=np.array([codes[v] for v in given.tolist()], dtype=object),
        given_sketch=sk.get("given", qgram_sketch(given, seed=seed)),
        surname=surname,
        surname_phonetic=np.array([codes[v] for v in surname.tolist()], dtype=object),
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
