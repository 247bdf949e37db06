"""Reading stored detection results back out: exports and the API's views."""

from __future__ import annotations

from typing import Any

import orjson

from ringwatch.errors import NotFound
from ringwatch.graph.store import GraphStore, RingFilter

# Account risk at or above which an export marks the account for review (docs/exports.md).
REVIEW_THRESHOLD = 0.7


def export_rings(store: GraphStore) -> list[dict[str, Any]]:
    rows = store.stored_results("rings")
    return [
        {
            "ring_id": r["ring_id"],
            "members": r["members"],
            "verdict": r["verdict"],
            "score": r["score"],
            "evidence": orjson.loads(r["evidence"] or "{}"),
        }
        for r in rows
    ]


def export_evaders(store: GraphStore) -> list[dict[str, Any]]:
    return [dict(r) for r in store.stored_results("evaders")]


def export_accounts(store: GraphStore) -> list[dict[str, Any]]:
    return [
        {
            "account_id": r["account_id"],
            "score": r["score"],
            "action": "review" if r["score"] >= REVIEW_THRESHOLD else "none",
            "ring_id": r["ring_id"],
            "sybil_score": r.get("sybil_score"),
            "engagement_score": r.get("engagement_score") or 0.0,
        }
        for r in store.stored_results("accounts")
    ]


def _parsed(text: str | None, empty: Any) -> Any:
    return orjson.loads(text) if text else empty


def ring_view(store: GraphStore, ring_id: str) -> dict[str, Any]:
    row = store.ring(ring_id)
    if row is None:
        raise NotFound(f"no ring {ring_id!r}")
    row["evidence"] = _parsed(row.get("evidence"), {})
    row["history"] = _parsed(row.get("history"), [])
    return row


def rings_page(store: GraphStore, filters: RingFilter) -> dict[str, Any]:
    items = store.rings_page(filters)
    next_cursor = items[-1]["id"] if len(items) == filters.limit else None
    return {"items": items, "next_cursor": next_cursor}


def account_view(store: GraphStore, account_id: str) -> dict[str, Any]:
    row = store.account(account_id)
    if row is None:
        raise NotFound(f"no account {account_id!r}")
    for match in row["evader_matches"]:
        match["evidence"] = _parsed(match.get("evidence"), {})
    row["identifier_counts"] = {kind: len(items) for kind, items in row["identifiers"].items()}
    return row
