"""Ingest tasks: apply one accepted batch; re-send batches whose task went missing."""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

from celery import Task

from ringwatch.errors import BatchFailed, Unavailable
from ringwatch.observability import BATCHES_APPLIED
from ringwatch.services.context import Services
from ringwatch.services.detection_queue import DetectionQueue
from ringwatch.settings import get_settings
from ringwatch.workers.app import app

log = logging.getLogger(__name__)


@cache
def services() -> Services:
    return Services(get_settings())


# An accepted batch must reach the graph: an unreachable store is retried, with backoff, for as
# long as it takes; the message is acknowledged only once the batch is applied.
UNTIL_APPLIED: dict[str, Any] = {
    "acks_late": True,
    "autoretry_for": (Unavailable,),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": None,
}


class CeleryQueue:
    def enqueue(self, batch_id: str) -> None:
        apply_batch.delay(batch_id)

    def enqueue_many(self, batch_ids: list[str]) -> None:
        apply_batches.delay(batch_ids)


@app.task(name="ingest.apply_batch", bind=True, **UNTIL_APPLIED)
def apply_batch(self: Task, batch_id: str) -> dict[str, object]:
    summary, applied = _apply(batch_id)
    if applied:
        _detect_soon()
    return summary


@app.task(name="ingest.apply_batches", bind=True, **UNTIL_APPLIED)
def apply_batches(self: Task, batch_ids: list[str]) -> list[dict[str, object]]:
    """Several accepted batches (the API's coalesced ids), and one incremental detection run
    for the group. A retry after a failure part-way repeats the list from the start: batches
    already applied find their marker and are skipped (their accounts were marked already)."""
    results = [_apply(batch_id) for batch_id in batch_ids]
    if any(applied for _, applied in results):
        _detect_soon()
    return [summary for summary, _ in results]


def _apply(batch_id: str) -> tuple[dict[str, object], bool]:
    """Apply one batch and mark the accounts it changed for incremental detection; its summary,
    and whether this call applied it."""
    try:
        result = services().ingest.apply(batch_id)
    except BatchFailed as e:
        log.error("batch %s dead-lettered: %s", batch_id, e)
        services().intake.dead_letter(batch_id, str(e))
        BATCHES_APPLIED.labels("dead_letter").inc()
        return {"batch_id": batch_id, "dead": True}, False
    if result is None:
        BATCHES_APPLIED.labels("already_applied").inc()
        return {"batch_id": batch_id, "applied": False}, False
    BATCHES_APPLIED.labels("applied" if result.applied else "already_applied").inc()
    if result.applied:
        DetectionQueue(services().redis).mark_dirty(result.accounts)
    summary = {"batch_id": batch_id, "applied": result.applied, "events": result.events}
    return summary, result.applied


def _detect_soon() -> None:
    from ringwatch.workers.detect import detect_incremental

    detect_incremental.apply_async(countdown=get_settings().incremental_delay_s)


@app.task(name="ingest.sweep", acks_late=True)
def sweep() -> int:
    overdue = services().ingest.overdue(get_settings().resend_after_s)
    for batch_id in overdue:
        apply_batch.delay(batch_id)
    if overdue:
        log.warning("re-sent %d overdue batches", len(overdue))
    return len(overdue)
