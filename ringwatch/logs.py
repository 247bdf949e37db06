"""Structured JSON logs with the request id of what caused them.

Log lines carry pseudonyms, counts and ids of our own making, never a raw identifier: the code
logs none, and tests/test_log_privacy.py greps a run's logs for every raw value of a world.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import orjson

from ringwatch.ids import unique_hex

REQUEST_ID_HEADER = "x-request-id"
# A caller's id is echoed and logged: only a bounded, boring alphabet, so no identifier and no log
# injection can ride in on it.
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


@contextlib.contextmanager
def request_context(rid: str | None) -> Iterator[None]:
    """Log under `rid` for the block (nothing changes for None: the caller's context stays)."""
    if rid is None:
        yield
        return
    token = request_id.set(rid)
    try:
        yield
    finally:
        request_id.reset(token)


def new_request_id(incoming: str | None) -> str:
    if incoming and _REQUEST_ID_OK.match(incoming):
        return incoming
    return unique_hex()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            entry["request_id"] = rid
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def configure(level: int | str = logging.INFO) -> None:
    """JSON lines on stderr for the whole process (uvicorn's and Celery's loggers included)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
