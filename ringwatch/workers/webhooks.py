"""Webhook delivery: a beat-driven pass over every subscription."""

from __future__ import annotations

import logging
from dataclasses import asdict

from celery import Task, shared_task

from ringwatch.observability import record_webhooks
from ringwatch.services import tasks
from ringwatch.services.context import Services

log = logging.getLogger(__name__)


def services(task: Task) -> Services:
    """The services of the app running `task` (`workers/app.py`), built once per process."""
    built: Services = task.app.services
    return built


@shared_task(name=tasks.WEBHOOKS_DELIVER, bind=True, acks_late=True)
def deliver(self: Task) -> dict[str, int]:
    # No retries of the task itself: beat sends the next pass in a few seconds, and the per-change
    # retry schedule lives in Redis, not in Celery. Overlapping passes are safe (per-subscription
    # lock), so a slow pass only makes the next one skip the subscriptions it still holds.
    service = services(self).webhooks
    try:
        stats = service.deliver_all()
    finally:
        service.close()
    record_webhooks(stats.delivered, stats.failed, stats.dead)
    if stats.dead:
        log.warning("webhooks: %d change(s) dead-lettered this pass", stats.dead)
    return asdict(stats)
