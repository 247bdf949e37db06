"""The audit log's statements and reads: append-only `(:Audit)` nodes (services/audit.py)."""

from __future__ import annotations

from typing import Any

from ringwatch.graph.queries import cypher
from ringwatch.graph.rows import Statement
from ringwatch.graph.runner import Runner

Row = dict[str, Any]


def append_statement(entries: list[Row], now: int) -> Statement:
    """The statement that appends `entries`; `now` must be the batch's `now`, which every
    statement of a batch shares (the embedded engine runs a batch as one query)."""
    return Statement(cypher("audit/append"), entries, {"now": now})


class AuditLog:
    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    def page(
        self, at: int, entry_id: str, limit: int, subject: tuple[str, str] | None = None
    ) -> list[Row]:
        """Entries after (`at`, `entry_id`) in time order: of one (type, id) subject, or all."""
        params: Row = {"at": at, "id": entry_id, "limit": limit}
        if subject is None:
            return self._runner.read(cypher("audit/page"), params)
        params["subject_type"], params["subject_id"] = subject
        return self._runner.read(cypher("audit/page_subject"), params)

    def get(self, entry_id: str) -> Row | None:
        rows = self._runner.read(cypher("audit/get"), {"id": entry_id})
        return rows[0] if rows else None
