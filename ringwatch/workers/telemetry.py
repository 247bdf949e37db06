"""Request ids across the broker, and worker metrics.

The id of the HTTP request that caused a task rides in the message's headers (stamped when it is
published inside that request's context, `services/tasks.py`) and is the log context while the
task runs, so the log lines of an ingest request and of the batches it caused can be joined.
"""

from __future__ import annotations

import contextvars
from typing import Any

from celery.signals import setup_logging, task_postrun, task_prerun

from ringwatch import logs
from ringwatch.logs import request_id
from ringwatch.services.tasks import REQUEST_ID_HEADER as HEADER

_tokens: dict[str, contextvars.Token[str | None]] = {}


@task_prerun.connect
def _enter(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    rid = None
    if task is not None:
        # Protocol 2 merges custom headers into the request; older paths keep them apart.
        rid = getattr(task.request, HEADER, None) or (task.request.headers or {}).get(HEADER)
    if task_id and isinstance(rid, str):
        _tokens[task_id] = request_id.set(rid)


@task_postrun.connect
def _leave(task_id: str | None = None, **_: Any) -> None:
    token = _tokens.pop(task_id, None) if task_id else None
    if token is not None:
        request_id.reset(token)


@setup_logging.connect
def _json_logs(loglevel: int | str | None = None, **_: Any) -> None:
    # Connected, this replaces Celery's own logging set-up: the worker logs JSON like the API.
    logs.configure(loglevel or "INFO")
