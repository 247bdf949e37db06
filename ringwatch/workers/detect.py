"""Detection tasks: the nightly full run and the incremental run after ingest."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from ringwatch.errors import Unavailable
from ringwatch.observability import record_detection
from ringwatch.services.detection import DetectionService, detect_params
from ringwatch.services.detection_queue import DetectionQueue
from ringwatch.workers.app import app
from ringwatch.workers.ingest import services

log = logging.getLogger(__name__)

FULL_LOCK_TTL_S = 6 * 3600
INCREMENTAL_LOCK_TTL_S = 600
INCREMENTAL_BATCH = 5000
RETRY_WHILE_LOCKED_S = 5


def queue() -> DetectionQueue:
    return DetectionQueue(services().redis)


@app.task(
    name="detect.full",
    acks_late=True,
    autoretry_for=(Unavailable,),
    retry_backoff=True,
    max_retries=10,
)
def detect_full() -> dict[str, Any]:
    with queue().lock(FULL_LOCK_TTL_S) as held:
        if not held:
            log.info("detect.full skipped: another detection run holds the lock")
            return {"skipped": True}
        svc = services()
        _, summary = DetectionService.from_settings(svc.store, svc.settings).run_full()
    record_detection("full", summary.seconds)
    log.info("detect.full %s: %s", summary.run_id, summary.rings)
    return asdict(summary)


@app.task(
    name="detect.incremental",
    bind=True,
    acks_late=True,
    autoretry_for=(Unavailable,),
    retry_backoff=True,
    max_retries=None,
)
def detect_incremental(self: Any) -> dict[str, Any]:
    q = queue()
    with q.lock(INCREMENTAL_LOCK_TTL_S) as held:
        if not held:
            if q.dirty_count():
                detect_incremental.apply_async(countdown=RETRY_WHILE_LOCKED_S)
            return {"skipped": True}
        changed = q.take_dirty(INCREMENTAL_BATCH)
        if not changed:
            return {"accounts": 0}
        try:
            svc = services()
            ran = DetectionService(svc.store, params=detect_params(svc.settings)).run_incremental(
                changed
            )
        except Exception:
            q.return_dirty(changed)
            raise
    if q.dirty_count():
        detect_incremental.delay()
    if ran is None:
        return {"accounts": 0}
    record_detection("incremental", ran[1].seconds)
    return asdict(ran[1])
