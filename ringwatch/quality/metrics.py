"""Pure metric functions; definitions are in docs/exports.md and must stay in step with it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

MATCH_JACCARD = 0.5
TOP_K = 3


def jaccard(a: Collection[str], b: Collection[str]) -> float:
    sa, sb = set(a), set(b)
    union = len(sa | sb)
    return len(sa & sb) / union if union else 0.0


def best_jaccards(
    planted: Sequence[Collection[str]], flagged: Sequence[Collection[str]]
) -> list[float]:
    """For each planted ring, the best Jaccard against any flagged ring.

    Only flagged rings sharing a member are compared, via an account -> ring index, so this is
    linear in total membership rather than planted x flagged.
    """
    owner: dict[str, list[int]] = {}
    sizes = []
    for j, ring in enumerate(flagged):
        members = set(ring)
        sizes.append(len(members))
        for m in members:
            owner.setdefault(m, []).append(j)
    out = []
    for ring in planted:
        members = set(ring)
        overlap: Counter[int] = Counter()
        for m in members:
            overlap.update(owner.get(m, ()))
        best = 0.0
        for j, inter in overlap.items():
            best = max(best, inter / (len(members) + sizes[j] - inter))
        out.append(best)
    return out


def ring_metrics(
    planted: Sequence[Collection[str]], flagged: Sequence[Collection[str]]
) -> dict[str, Any]:
    best = best_jaccards(planted, flagged)
    sizes = np.array([len(set(r)) for r in planted], dtype=np.float64)
    matched = sum(1 for b in best if b >= MATCH_JACCARD)
    return {
        "planted": len(planted),
        "flagged": len(flagged),
        "matched": matched,
        "recall": matched / len(planted) if planted else None,
        "mean_best_jaccard": float(np.mean(best)) if best else None,
        "size_weighted_best_jaccard": (
            float(np.dot(sizes, best) / sizes.sum()) if best and sizes.sum() else None
        ),
    }


def account_metrics(
    flagged_accounts: Collection[str],
    is_bad: Mapping[str, str],
    ring_members: Collection[str],
) -> dict[str, Any]:
    """Precision/recall of 'member of a flagged ring'. is_bad maps non-benign accounts to their
    label; anything absent is benign (including ids the world never had)."""
    flagged = set(flagged_accounts)
    members = set(ring_members)
    true_pos = sum(1 for a in flagged if a in is_bad)
    return {
        "flagged": len(flagged),
        "precision": true_pos / len(flagged) if flagged else None,
        "recall": len(flagged & members) / len(members) if members else None,
        "recall_all_bad": true_pos / len(is_bad) if is_bad else None,
    }


def false_ring_metrics(
    flagged: Sequence[Collection[str]],
    is_bad: Mapping[str, str],
    benign_group_accounts: Collection[str],
) -> dict[str, Any]:
    """A flagged ring is false when more than half its members are benign."""
    false = sum(1 for ring in flagged if _benign_majority(ring, is_bad))
    flagged_accounts = {a for ring in flagged for a in ring}
    group_accounts = {a for a in benign_group_accounts if a not in is_bad}
    hit = len(flagged_accounts & group_accounts)
    return {
        "false_rings": false,
        "false_ring_share": false / len(flagged) if flagged else None,
        "benign_group_accounts_flagged": hit,
        "benign_group_accounts_flagged_share": hit / len(group_accounts)
        if group_accounts
        else None,
    }


def _benign_majority(ring: Collection[str], is_bad: Mapping[str, str]) -> bool:
    members = set(ring)
    benign = sum(1 for m in members if m not in is_bad)
    return benign * 2 > len(members)


def evader_metrics(
    rows: Iterable[tuple[str, Sequence[str]]],
    offenders: Mapping[str, Collection[str]],
    total_accounts: int,
    k: int = TOP_K,
) -> dict[str, Any]:
    """rows: (account, matched banned ids best first). An offender counts as found when one of
    its first k matches is an account it continues; rows for other accounts are false matches.
    When an account has several rows the first one counts."""
    seen: dict[str, Sequence[str]] = {}
    for account, matched in rows:
        seen.setdefault(account, matched)
    hits = top1 = 0
    for account, continues in offenders.items():
        if account not in seen:
            continue
        matched = seen[account]
        right = set(continues)
        if any(m in right for m in matched[:k]):
            hits += 1
        if matched and matched[0] in right:
            top1 += 1
    false = sum(1 for a in seen if a not in offenders)
    return {
        "repeat_offenders": len(offenders),
        "rows": len(seen),
        f"recall_top{k}": hits / len(offenders) if offenders else None,
        "recall_top1": top1 / len(offenders) if offenders else None,
        "false_matches": false,
        "false_match_share": false / total_accounts if total_accounts else None,
    }


def _ranks(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """1-based ranks, ties get their average rank."""
    order = np.argsort(x, kind="mergesort")
    sx = x[order]
    new = np.r_[True, sx[1:] != sx[:-1]]
    group = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], len(sx)]
    avg = (starts + ends + 1) / 2.0
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = avg[group]
    return ranks


def roc_auc(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float | None:
    """Mann-Whitney form: probability a random positive outscores a random negative (ties 1/2)."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return None
    r = _ranks(s)
    return float((r[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def average_precision(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float | None:
    """Sum over distinct score thresholds (high to low) of precision x recall gained."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    pos = int(y.sum())
    if pos == 0:
        return None
    order = np.argsort(-s, kind="mergesort")
    sy, ss = y[order], s[order]
    last = np.r_[ss[1:] != ss[:-1], True]  # end of each tie block
    tp = np.cumsum(sy)[last]
    seen = (np.flatnonzero(last) + 1).astype(np.float64)
    precision = tp / seen
    recall_gain = np.diff(np.r_[0, tp]) / pos
    return float(np.sum(precision * recall_gain))
