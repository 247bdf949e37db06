"""The review queue's statements and reads: `(:Review)` items (services/reviews.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ringwatch.graph.queries import cypher
from ringwatch.graph.rows import Statement
from ringwatch.graph.runner import Runner

Row = dict[str, Any]


def upsert_statement(rows: list[Row], now: int) -> Statement:
    """Create items, or escalate the subject's open one, each with its audit entry."""
    return Statement(cypher("reviews/upsert"), rows, {"now": now})


def claim_statement(row: Row, now: int) -> Statement:
    return Statement(cypher("reviews/claim"), [row], {"now": now})


def resolve_statement(row: Row, now: int) -> Statement:
    return Statement(cypher("reviews/resolve"), [row], {"now": now})


def suppress_ring_statement(row: Row, now: int) -> Statement:
    return Statement(cypher("reviews/suppress_ring"), [row], {"now": now})


def advance_sync_statement(upto: int, now: int) -> Statement:
    """The queue's cursor in the Change log, moved in the batch of the items it queued."""
    return Statement(cypher("reviews/advance_sync"), [{"upto": upto}], {"now": now})


def stored_statuses(status: str) -> list[str]:
    """The stored statuses a page of `status` reads: an open page includes claims past their
    expiry, which stay `claimed` until someone claims or resolves them."""
    return ["open", "claimed"] if status == "open" else [status]


class ReviewQueue:
    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    def get(self, review_id: str) -> Row | None:
        rows = self._runner.read(cypher("reviews/get"), {"id": review_id})
        if not rows or rows[0]["id"] is None:
            return None
        return rows[0]

    def page_by_priority(
        self, status: str, now: int, limit: int, priority: float, after_id: str
    ) -> list[Row]:
        """Items of `status` after (`priority`, `after_id`), highest priority first."""
        params = {"status": status, "now": now, "limit": limit, "priority": priority}
        params["statuses"] = stored_statuses(status)
        return self._runner.read(cypher("reviews/page_priority"), {**params, "id": after_id})

    def page_by_created(
        self, status: str, now: int, limit: int, created: int, after_id: str
    ) -> list[Row]:
        """Items of `status` after (`created`, `after_id`), oldest first."""
        params = {"status": status, "now": now, "limit": limit, "created": created}
        params["statuses"] = stored_statuses(status)
        return self._runner.read(cypher("reviews/page_created"), {**params, "id": after_id})

    def upsert(self, rows: list[Row], now: int) -> None:
        """`upsert_statement` on its own, one transaction (the decision path's one write)."""
        self._runner.write(cypher("reviews/upsert"), {"rows": rows, "now": now})

    def sync_cursor(self) -> int:
        """The last Change seq the queue has read (0 before the first sync)."""
        rows = self._runner.read(cypher("reviews/sync_cursor"))
        return int(rows[0]["value"] or 0) if rows else 0

    def suppressions(self, ring_ids: list[str]) -> list[Row]:
        """Rings among `ring_ids` a `legit` label suppressed: id, identifiers, review,
        fingerprint."""
        return self._runner.read(cypher("reviews/suppressions"), {"ids": ring_ids})

    def account_states(self, accounts: Iterable[str]) -> dict[str, Row]:
        """Status and banned_at of the existing accounts among `accounts`, by id."""
        ids = sorted(set(accounts))
        if not ids:
            return {}
        rows = self._runner.read(cypher("reviews/account_states"), {"ids": ids})
        return {r["id"]: r for r in rows}
