"""Detection tasks: the nightly full run and the incremental run after ingest."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from celery import Task, shared_task

from ringwatch.errors import Unavailable
from ringwatch.observability import record_detection
from ringwatch.services import fanout, tasks
from ringwatch.services.context import Services

log = logging.getLogger(__name__)

FULL_LOCK_TTL_S = 6 * 3600
INCREMENTAL_LOCK_TTL_S = 600
# Changed accounts taken per incremental run. A scope grows with the accounts it starts from
# (two places out at 1M accounts: ~28k from 1,000 of them, ~110k from 5,000); past
# MAX_INCREMENTAL_SCOPE the run covers a part and puts the rest back (`deferred`), while at
# 100k 4,000 of them reach most of a component anyway and one run is cheapest.
INCREMENTAL_BATCH = 5000
RETRY_WHILE_LOCKED_S = 5


def services(task: Task) -> Services:
    """The services of the app running `task` (`workers/app.py`), built once per process."""
    built: Services = task.app.services
    return built


@shared_task(
    name=tasks.DETECT_FULL,
    bind=True,
    acks_late=True,
    autoretry_for=(Unavailable,),
    retry_backoff=True,
    max_retries=10,
)
def detect_full(self: Task) -> dict[str, Any]:
    svc = services(self)
    with svc.detection_queue.lock(FULL_LOCK_TTL_S) as held:
        if not held:
            log.info("detect.full skipped: another detection run holds the lock")
            return {"skipped": True}
        _, summary = svc.detection.run_full()
    record_detection("full", summary.seconds)
    log.info("detect.full %s: %s", summary.run_id, summary.rings)
    return asdict(summary)


@shared_task(
    name=tasks.DETECT_INCREMENTAL,
    bind=True,
    acks_late=True,
    autoretry_for=(Unavailable,),
    retry_backoff=True,
    max_retries=None,
)
def detect_incremental(self: Task) -> dict[str, Any]:
    svc = services(self)
    q = svc.detection_queue
    with q.lock(INCREMENTAL_LOCK_TTL_S) as held:
        if not held:
            if q.dirty_count():
                tasks.send(self.app, tasks.DETECT_INCREMENTAL, countdown=RETRY_WHILE_LOCKED_S)
            return {"skipped": True}
        changed = q.take_dirty(INCREMENTAL_BATCH)
        if not changed:
            return {"accounts": 0}
        try:
            ran = svc.detection.run_incremental(changed)
        except Exception:
            q.return_dirty(changed)
            raise
        if ran is not None and ran[1].deferred:
            # Past the scope's limit: the rest goes back before the lock is released.
            q.return_dirty(ran[1].deferred)
    if q.dirty_count():
        tasks.send(self.app, tasks.DETECT_INCREMENTAL)
    if ran is None:
        return {"accounts": 0}
    record_detection("incremental", ran[1].seconds)
    return {**asdict(ran[1]), "deferred": len(ran[1].deferred)}


@shared_task(name=tasks.DETECT_SHARD, bind=True, acks_late=True)
def detect_shard(self: Task, run_id: str, part: str) -> dict[str, Any]:
    """One part of a sharded full run (services/fanout.py). No retry here: a failure is
    recorded for the coordinator, which fails the whole run, and the full run retries."""
    settings = self.app.settings
    out = fanout.run_part(settings.detection_runs_root, run_id, part)
    log.info("detect.shard %s %s: %s", run_id, part, out)
    return out
