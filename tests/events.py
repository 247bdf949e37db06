"""Small hand-built events for tests."""

from __future__ import annotations

from typing import Any


def signup(
    event_id: str, account: str, ts: str = "2026-03-01T10:00:00Z", **fields: Any
) -> dict[str, Any]:
    return {"event_id": event_id, "type": "signup", "ts": ts, "account_id": account, **fields}


def event(
    event_type: str, event_id: str, account: str, ts: str = "2026-03-02T10:00:00Z", **fields: Any
) -> dict[str, Any]:
    return {"event_id": event_id, "type": event_type, "ts": ts, "account_id": account, **fields}
