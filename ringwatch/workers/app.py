"""The Celery application, configured from `Settings`."""

from __future__ import annotations

from celery import Celery
from celery.schedules import crontab

from ringwatch.graph.factory import redis_url
from ringwatch.settings import Settings, get_settings
from ringwatch.workers import telemetry  # noqa: F401  (connects the request-id signals)


def celery_broker_url(settings: Settings) -> str:
    url = redis_url(settings, start=False)
    # kombu spells a Unix-socket Redis `redis+socket://`; redis-py spells it `unix://`.
    return "redis+socket://" + url.removeprefix("unix://") if url.startswith("unix://") else url


def make_celery(settings: Settings) -> Celery:
    app = Celery(
        "ringwatch",
        broker=celery_broker_url(settings),
        include=[
            "ringwatch.workers.ingest",
            "ringwatch.workers.detect",
            "ringwatch.workers.webhooks",
        ],
    )
    app.conf.update(
        task_acks_late=True,
        # A worker killed mid-task (OOM, SIGKILL, deploy) leaves its message to be delivered again.
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_always_eager=settings.celery_eager,
        broker_transport_options={"visibility_timeout": settings.resend_after_s * 5},
        broker_connection_retry_on_startup=True,
        beat_schedule={
            "ingest-sweep": {
                "task": "ingest.sweep",
                "schedule": max(5, settings.resend_after_s // 2),
            },
            "webhooks-deliver": {
                "task": "webhooks.deliver",
                "schedule": 5.0,
                # A pass still queued when the next is due is redundant, not lost work.
                "options": {"expires": 15},
            },
            "detect-full-nightly": {
                "task": "detect.full",
                "schedule": crontab(hour=settings.full_detection_hour_utc, minute=0),
            },
        },
        timezone="UTC",
    )
    return app


app = make_celery(get_settings())
