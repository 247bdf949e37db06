"""Ingest tasks: apply one accepted batch; re-send batches whose task went missing."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task

from ringwatch import logs
from ringwatch.errors import BatchFailed, Unavailable
from ringwatch.observability import BATCHES_APPLIED
from ringwatch.services import tasks
from ringwatch.services.context import Services

log = logging.getLogger(__name__)


def services(task: Task) -> Services:
    """The services of the app running `task` (`workers/app.py`), built once per process."""
    built: Services = task.app.services
    return built


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


@shared_task(name=tasks.INGEST_APPLY_BATCH, bind=True, **UNTIL_APPLIED)
def apply_batch(self: Task, batch_id: str) -> dict[str, object]:
    summary, applied = _apply(services(self), batch_id)
    if applied:
        _detect_soon(self)
    return summary


@shared_task(name=tasks.INGEST_APPLY_BATCHES, bind=True, **UNTIL_APPLIED)
def apply_batches(
    self: Task, batch_ids: list[str], request_ids: list[str | None] | None = None
) -> list[dict[str, object]]:
    """Several accepted batches (the API's coalesced ids), and one incremental detection run
    for the group. A retry after a failure part-way repeats the list from the start: batches
    already applied find their marker and are skipped (their accounts were marked already).
    `request_ids[i]` is the request that accepted batch i: its log context while it applies.
    Messages sent before it existed carry none."""
    svc = services(self)
    rids = request_ids or []
    results = []
    for i, batch_id in enumerate(batch_ids):
        rid = rids[i] if i < len(rids) else None
        with logs.request_context(rid):
            results.append(_apply(svc, batch_id))
    if any(applied for _, applied in results):
        _detect_soon(self)
    return [summary for summary, _ in results]


def _apply(svc: Services, batch_id: str) -> tuple[dict[str, object], bool]:
    """Apply one batch and mark the accounts it changed for incremental detection; its summary,
    and whether this call applied it."""
    try:
        result = svc.ingest.apply(batch_id)
    except BatchFailed as e:
        log.error("batch %s dead-lettered: %s", batch_id, e)
        svc.intake.dead_letter(batch_id, str(e))
        BATCHES_APPLIED.labels("dead_letter").inc()
        return {"batch_id": batch_id, "dead": True}, False
    if result is None:
        BATCHES_APPLIED.labels("already_applied").inc()
        return {"batch_id": batch_id, "applied": False}, False
    BATCHES_APPLIED.labels("applied" if result.applied else "already_applied").inc()
    if result.applied:
        svc.detection_queue.mark_dirty(result.accounts)
    summary = {"batch_id": batch_id, "applied": result.applied, "events": result.events}
    return summary, result.applied


def _detect_soon(task: Task) -> None:
    delay = services(task).settings.incremental_delay_s
    tasks.send(task.app, tasks.DETECT_INCREMENTAL, countdown=delay)


@shared_task(name=tasks.INGEST_SWEEP, bind=True, acks_late=True)
def sweep(self: Task) -> int:
    svc = services(self)
    overdue = svc.ingest.overdue(svc.settings.resend_after_s)
    for batch_id in overdue:
        tasks.send(self.app, tasks.INGEST_APPLY_BATCH, batch_id)
    if overdue:
        log.warning("re-sent %d overdue batches", len(overdue))
    return len(overdue)
