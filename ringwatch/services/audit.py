"""The audit log: who did what to which ring, account or review, when, why, before and after.

Entries are `(:Audit)` nodes in the graph, not a separate store, so that an entry can commit in
the same atomic batch as the change it describes (`append_statement` next to the change's own
statements in `store.apply_statements`): a crash leaves both or neither, and the log never tells
of a ban that did not happen. Nothing updates or deletes an Audit node; `GET /v1/audit` pages them
in time order per subject. The statements and reads are the graph's (`graph/audit_log.py`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ringwatch.errors import Invalid, Problem
from ringwatch.graph.audit_log import append_statement
from ringwatch.graph.store import GraphStore
from ringwatch.services import cursors

Row = dict[str, Any]

SUBJECT_TYPES = ("ring", "account", "review")
MAX_LIMIT = 500
MAX_CURSOR_LENGTH = 600


@dataclass(frozen=True)
class Actor:
    """A person's API key (its id, plus its name for readers) or the system itself."""

    id: str
    name: str = ""

    @property
    def label(self) -> str:
        return self.id if not self.name or self.name == self.id else f"{self.id}/{self.name}"


SYSTEM = Actor("system")


def dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def now_ms() -> int:
    return int(time.time() * 1000)


def new_id(prefix: str = "aud_") -> str:
    """Ids that sort in creation order: entries of one millisecond (`at`) are paged by id, and
    the log should still read in the order things happened."""
    return f"{prefix}{time.time_ns():016x}{uuid.uuid4().hex[:8]}"


def entry(
    actor: Actor,
    action: str,
    subject_type: str,
    subject_id: str,
    *,
    reason: str | None,
    before: Any,
    after: Any,
    entry_id: str | None = None,
) -> Row:
    """One audit row for `append_statement`. Pass a deterministic `entry_id` when the batch may be
    retried, so that the id names the operation rather than the attempt."""
    if subject_type not in SUBJECT_TYPES:
        raise ValueError(f"unknown audit subject type {subject_type!r}")
    return {
        "id": entry_id or new_id(),
        "actor": actor.label,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "reason": reason or "",
        "before": dumps(before),
        "after": dumps(after),
    }


def record(store: GraphStore, entries: list[Row], *, batch_id: str | None = None) -> bool:
    """Append entries that describe no graph change of their own (a refused request, say)."""
    now = now_ms()
    return store.apply_statements(
        batch_id or new_id("audit:"), [append_statement(entries, now)], now=now
    )


def parse_subject(text: str) -> tuple[str, str]:
    kind, sep, subject_id = text.partition(":")
    if not sep or kind not in SUBJECT_TYPES or not subject_id:
        raise Invalid(
            "invalid subject",
            [Problem("subject", f"expected TYPE:ID with TYPE one of {', '.join(SUBJECT_TYPES)}")],
        )
    return kind, subject_id


def encode_cursor(at: int, entry_id: str) -> str:
    return cursors.encode([at, entry_id])


def decode_cursor(cursor: str) -> tuple[int, str]:
    if not cursor:
        return -1, ""
    position = cursors.decode(cursor, "after", MAX_CURSOR_LENGTH)
    if (
        not isinstance(position, list)
        or len(position) != 2
        or not isinstance(position[0], int)
        or isinstance(position[0], bool)
        or not isinstance(position[1], str)
    ):
        raise cursors.invalid("after", "not a cursor returned by this API")
    return position[0], position[1]


def page(store: GraphStore, subject: str | None, after: str = "", limit: int = 100) -> Row:
    """Entries in time order (of one subject, or all), after a cursor from a previous page."""
    limit = max(1, min(limit, MAX_LIMIT))
    at, entry_id = decode_cursor(after)
    rows = store.audit.page(at, entry_id, limit, parse_subject(subject) if subject else None)
    items = [view(r) for r in rows]
    next_cursor = encode_cursor(int(rows[-1]["at"]), rows[-1]["id"]) if rows else after
    return {"items": items, "next_cursor": next_cursor, "more": len(rows) == limit}


def view(row: Mapping[str, Any]) -> Row:
    out = dict(row)
    for name in ("before", "after"):
        raw = out.get(name)
        out[name] = orjson.loads(raw) if isinstance(raw, str) and raw else None
    return out


def of_subject(store: GraphStore, subject_type: str, subject_id: str) -> list[Row]:
    """Every entry of one subject (tests and small views; the API pages)."""
    out: list[Row] = []
    cursor = ""
    while True:
        got = page(store, f"{subject_type}:{subject_id}", cursor, MAX_LIMIT)
        out += got["items"]
        if not got["more"]:
            return out
        cursor = got["next_cursor"]
