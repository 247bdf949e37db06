"""The one codec for paging cursors: a JSON value, base64url without padding.

Cursors are opaque to clients, but each page kind needs its own position (a change seq, a
priority and an id, a time and an id). This module owns how a position becomes a string and back,
and the refusal of strings this API did not give; each page kind checks the shape of its own
position. The encoding is stable: webhook subscriptions store feed cursors across releases.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from ringwatch.errors import Invalid, Problem

MAX_CURSOR_LENGTH = 200


def encode(position: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(position)).rstrip(b"=").decode()


def decode(cursor: str, field: str, max_length: int = MAX_CURSOR_LENGTH) -> Any:
    """The position a cursor holds; `Invalid` naming `field` if it is not one this API gave."""
    if len(cursor) > max_length:
        raise invalid(field, "cursor too long")
    try:
        return orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise invalid(field, "not a cursor returned by this API") from None


def invalid(field: str, reason: str) -> Invalid:
    return Invalid("malformed cursor", [Problem(field=field, reason=reason)])
