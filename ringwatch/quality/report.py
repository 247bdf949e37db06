"""Put the metrics together for one detection run against one truth."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from ringwatch.quality.metrics import (
    account_metrics,
    average_precision,
    evader_metrics,
    false_ring_metrics,
    ring_metrics,
    roc_auc,
)
from ringwatch.quality.readers import AccountRow, EvaderRow, FlaggedRing, Truth


def evaluate(
    truth: Truth,
    rings: list[FlaggedRing],
    evaders: list[EvaderRow] | None = None,
    accounts: list[AccountRow] | None = None,
) -> dict[str, Any]:
    flagged = [r.members for r in rings if r.flagged]
    planted = [r["members"] for r in truth.rings]
    bad = truth.labels
    members = {m for r in planted for m in r}
    out: dict[str, Any] = {"rings": ring_metrics(planted, flagged)}
    by_style: dict[str, list[list[str]]] = defaultdict(list)
    for r in truth.rings:
        by_style[r["style"]].append(r["members"])
    per_style = {style: ring_metrics(group, flagged) for style, group in sorted(by_style.items())}
    out["rings"]["by_style"] = {style: m["recall"] for style, m in per_style.items()}
    # Counts beside each recall, and the worst style up front: an average over styles hides
    # a style the detector misses entirely.
    out["rings"]["by_style_matched"] = {
        style: f"{m['matched']}/{m['planted']}" for style, m in per_style.items()
    }
    recalls = [m["recall"] for m in per_style.values() if m["recall"] is not None]
    out["rings"]["min_style_recall"] = min(recalls) if recalls else None
    out["rings"]["worst_style"] = (
        min(per_style, key=lambda s: per_style[s]["recall"] or 0.0) if per_style else None
    )
    out["accounts"] = account_metrics({a for r in flagged for a in r}, bad, members)
    group_accounts = {m for g in truth.groups for m in g["members"]}
    out["false_rings"] = false_ring_metrics(flagged, bad, group_accounts)
    if evaders is not None:
        out["evaders"] = evader_metrics(
            ((e.account_id, e.matched) for e in evaders), truth.repeat_offenders, truth.accounts
        )
    if accounts is not None:
        out["scores"] = score_metrics(truth, accounts)
    return out


def score_metrics(truth: Truth, rows: list[AccountRow]) -> dict[str, Any]:
    """AUC and AP over the whole world. Accounts without a row share the lowest score, so a
    detector is not rewarded for leaving hard accounts out."""
    scores: dict[str, float] = {}
    for row in rows:
        scores.setdefault(row.account_id, row.score)
    known = list(scores)
    floor = min(scores.values(), default=0.0) - 1.0
    y = [truth.is_bad(a) for a in known]
    s = [scores[a] for a in known]
    missing_bad = [a for a in truth.labels if a not in scores]
    scored_benign = sum(1 for v in y if not v)
    missing_benign = max(0, truth.accounts - len(truth.labels) - scored_benign)
    labels = np.concatenate(
        [np.asarray(y, dtype=bool), np.ones(len(missing_bad), bool), np.zeros(missing_benign, bool)]
    )
    values = np.concatenate(
        [np.asarray(s, dtype=np.float64), np.full(len(missing_bad) + missing_benign, floor)]
    )
    return {
        "scored": len(scores),
        "coverage": len(scores) / truth.accounts if truth.accounts else None,
        "roc_auc": roc_auc(labels, values),
        "average_precision": average_precision(labels, values),
    }
