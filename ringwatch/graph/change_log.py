"""Statements of the verdict Change log (the outbox of the feed and webhooks) outside detection."""

from __future__ import annotations

from typing import Any

from ringwatch.graph.queries import cypher
from ringwatch.graph.rows import Statement


def record_statement(rows: list[dict[str, Any]], run: str, now: int) -> Statement:
    """Append change rows (`services.changes.change`) under the operation `run`, in the batch
    of the state change they describe."""
    return Statement(cypher("detect/record_changes"), rows, {"now": now, "run": run})
