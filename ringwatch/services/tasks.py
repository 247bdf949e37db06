"""Celery tasks by name: what the API, the CLI and the tasks themselves send.

Senders never import a task: they name it, so no worker module imports another and nothing above
the workers imports one. The names are the tasks' registered names (`workers/*.py`).

The id of the HTTP request (or task) that sends a task rides in the message's headers, stamped
here in whichever process publishes; `workers/telemetry.py` makes it the task's log context.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import before_task_publish

from ringwatch.graph.factory import redis_url
from ringwatch.logs import request_id
from ringwatch.settings import Settings

INGEST_APPLY_BATCH = "ingest.apply_batch"
INGEST_APPLY_BATCHES = "ingest.apply_batches"
INGEST_SWEEP = "ingest.sweep"
DETECT_FULL = "detect.full"
DETECT_INCREMENTAL = "detect.incremental"
DETECT_SHARD = "detect.shard"
WEBHOOKS_DELIVER = "webhooks.deliver"

REQUEST_ID_HEADER = "ringwatch_request_id"


def _stamp(headers: dict[str, Any] | None = None, **_: Any) -> None:
    rid = request_id.get()
    if rid and headers is not None and REQUEST_ID_HEADER not in headers:
        headers[REQUEST_ID_HEADER] = rid


before_task_publish.connect(_stamp)


def celery_broker_url(settings: Settings) -> str:
    url = redis_url(settings, start=False)
    # kombu spells a Unix-socket Redis `redis+socket://`; redis-py spells it `unix://`.
    return "redis+socket://" + url.removeprefix("unix://") if url.startswith("unix://") else url


def celery_client(settings: Settings) -> Celery:
    """A Celery app that only sends (the API's): the worker's broker and serializer, no tasks."""
    app = Celery("ringwatch", broker=celery_broker_url(settings))
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
    )
    return app


def send(app: Celery, name: str, *args: Any, countdown: float | None = None) -> None:
    """Send task `name`. Through a signature, so that an app in eager mode whose tasks are
    registered (a worker's) still runs it inline, as calling the task object did."""
    app.signature(name, args=args).apply_async(countdown=countdown)


class CeleryQueue:
    """The API's `BatchQueue`: accepted batch ids, sent to the ingest tasks by name."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def enqueue(self, batch_id: str) -> None:
        send(self.app, INGEST_APPLY_BATCH, batch_id)

    def enqueue_many(self, batch_ids: list[str], request_ids: list[str | None]) -> None:
        send(self.app, INGEST_APPLY_BATCHES, batch_ids, request_ids)
