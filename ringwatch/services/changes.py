"""Verdict changes between two states of the graph: what enforcement consumers are told.

Ring changes: `created` (a new flagged ring), `escalated` (benign -> suspicious -> fraud),
`downgraded` (fraud -> suspicious), `cleared` (to benign, or no longer found), `merged` and
`split` (from the ring id history). Account changes: `escalated` when an account's risk reaches
the review threshold, `cleared` when it drops below.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from ringwatch.detectors.pipeline import Ring

VERDICT_RANK = {"benign": 0, "suspicious": 1, "fraud": 2}
FLAG_THRESHOLD = 0.7

Change = dict[str, Any]


def change(kind: str, subject: str, subject_id: str, detail: Mapping[str, Any]) -> Change:
    return {
        "kind": kind,
        "subject": subject,
        "id": subject_id,
        "detail": orjson.dumps(detail, option=orjson.OPT_SORT_KEYS).decode(),
    }


def ring_changes(
    previous: Mapping[str, Mapping[str, Any]], rings: Iterable[Ring]
) -> dict[str, list[Change]]:
    """Changes per ring id of this run. `previous`: ring id -> {verdict, status} before the run."""
    out: dict[str, list[Change]] = {}
    for ring in rings:
        before = previous.get(ring.ring_id)
        detail = {"verdict": ring.verdict, "score": ring.score, "size": len(ring.members)}
        changes = out.setdefault(ring.ring_id, [])
        for event in ring.history:
            if event.get("event") in ("merged", "split"):
                changes.append(change(event["event"], "ring", ring.ring_id, {**detail, **event}))
        active = before is not None and before.get("status") == "active"
        was_verdict = str(before.get("verdict") or "benign") if before and active else None
        now = VERDICT_RANK[ring.verdict]
        if was_verdict is None:
            if now > 0:
                changes.append(change("created", "ring", ring.ring_id, detail))
        elif now != VERDICT_RANK.get(was_verdict, 0):
            was = VERDICT_RANK.get(was_verdict, 0)
            kind = "escalated" if now > was else ("cleared" if now == 0 else "downgraded")
            changes.append(change(kind, "ring", ring.ring_id, {**detail, "was": was_verdict}))
        if not changes:
            del out[ring.ring_id]
    return out


def retired_ring_changes(
    previous: Mapping[str, Mapping[str, Any]], produced: set[str], absorbed: set[str]
) -> dict[str, list[Change]]:
    """Flagged rings of the scope that this run no longer finds (and that did not merge or split
    into another ring, which `merged`/`split` already tell) are cleared."""
    out: dict[str, list[Change]] = {}
    for ring_id, before in sorted(previous.items()):
        if ring_id in produced or ring_id in absorbed or before.get("status") != "active":
            continue
        if VERDICT_RANK.get(before.get("verdict") or "benign", 0) > 0:
            out[ring_id] = [
                change(
                    "cleared", "ring", ring_id, {"was": before["verdict"], "reason": "dissolved"}
                )
            ]
    return out


def account_changes(
    previous: Mapping[str, Mapping[str, Any]],
    current: Mapping[str, Mapping[str, Any]],
    scope: Iterable[str],
) -> dict[str, list[Change]]:
    """`previous`/`current`: account id -> {risk, ring_id} for accounts with risk > 0."""
    out: dict[str, list[Change]] = {}
    for account in scope:
        was = float((previous.get(account) or {}).get("risk") or 0.0)
        now_row = current.get(account) or {}
        now = float(now_row.get("risk") or 0.0)
        if was < FLAG_THRESHOLD <= now:
            out[account] = [
                change(
                    "escalated",
                    "account",
                    account,
                    {
                        "risk": now,
                        "ring_id": now_row.get("ring"),
                        "evader_score": now_row.get("evader", 0.0),
                    },
                )
            ]
        elif now < FLAG_THRESHOLD <= was:
            out[account] = [change("cleared", "account", account, {"risk": now, "was": was})]
    return out
