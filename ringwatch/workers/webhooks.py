"""Webhook delivery: a beat-driven pass over every subscription."""

from __future__ import annotations

import logging
from dataclasses import asdict

from ringwatch.observability import record_webhooks
from ringwatch.services.webhooks import WebhookService
from ringwatch.workers.app import app
from ringwatch.workers.ingest import services

log = logging.getLogger(__name__)


@app.task(name="webhooks.deliver", acks_late=True)
def deliver() -> dict[str, int]:
    # No retries of the task itself: beat sends the next pass in a few seconds, and the per-change
    # retry schedule lives in Redis, not in Celery. Overlapping passes are safe (per-subscription
    # lock), so a slow pass only makes the next one skip the subscriptions it still holds.
    service = WebhookService(
        services().redis,
        services().store,
        allow_private=services().settings.webhooks_may_call_private,
    )
    try:
        stats = service.deliver_all()
    finally:
        service.close()
    record_webhooks(stats.delivered, stats.failed, stats.dead)
    if stats.dead:
        log.warning("webhooks: %d change(s) dead-lettered this pass", stats.dead)
    return asdict(stats)
