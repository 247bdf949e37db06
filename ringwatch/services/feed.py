"""The verdict feed: the Change log, paged by an opaque cursor.

The cursor wraps the last `seq` a consumer has seen. It is opaque (base64url of a small versioned
JSON document) so the position can later carry more than a number — a log epoch, a shard — without
breaking consumers that only store and send it back.

Exactly-once replay rests on the log, not on this module: `seq` is allocated under the Sequence
node's lock in the same transaction as the change, so seqs become visible in order and a page
"after n" never skips a change that commits later with a smaller seq.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import orjson

from ringwatch.errors import Invalid, Problem
from ringwatch.graph.store import GraphStore
from ringwatch.services import cursors

CURSOR_VERSION = 1
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_CURSOR_LENGTH = cursors.MAX_CURSOR_LENGTH


def encode_cursor(seq: int) -> str:
    return cursors.encode({"v": CURSOR_VERSION, "seq": seq})


def decode_cursor(cursor: str | None, field: str = "after") -> int:
    """The seq a cursor points after; no cursor means the start of the log."""
    if not cursor:
        return 0

    doc = cursors.decode(cursor, field)
    if not isinstance(doc, dict) or doc.get("v") != CURSOR_VERSION:
        raise cursors.invalid(field, "unknown cursor version")
    seq = doc.get("seq")
    # bool is an int subclass; a hand-made {"seq": true} is not a position.
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise cursors.invalid(field, "cursor position out of range")
    return seq


def rfc3339(ms: int) -> str:
    return (
        dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def change_item(row: Mapping[str, Any]) -> dict[str, Any]:
    """A Change row as consumers see it: RFC 3339 time and the detail parsed."""
    detail = row.get("detail")
    return {
        "seq": int(row["seq"]),
        "kind": row["kind"],
        "subject": row["subject"],
        "subject_id": row["subject_id"],
        "at": rfc3339(int(row["at"])),
        "run": row.get("run"),
        "detail": orjson.loads(detail) if isinstance(detail, str | bytes) and detail else {},
    }


def verdicts_page(
    store: GraphStore, after: str | None, limit: int = DEFAULT_LIMIT
) -> dict[str, Any]:
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid("limit out of range", [Problem("limit", f"must be 1..{MAX_LIMIT}")])
    position = decode_cursor(after)
    rows = store.changes_page(position, limit)
    items = [change_item(r) for r in rows]
    # An empty page hands the consumer's own cursor back, so "poll from next_cursor" is the only
    # rule a consumer needs, whether or not anything new arrived.
    next_cursor = encode_cursor(items[-1]["seq"]) if items else (after or encode_cursor(0))
    return {"items": items, "next_cursor": next_cursor}
