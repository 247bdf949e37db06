"""The Celery application, built from the `Settings` it is given.

The task modules are included by name and never import this one (nor each other): a task finds
its process's services through `self.app` and sends other tasks by name (`services.tasks`).
"""

from __future__ import annotations

from functools import cached_property

from celery import Celery
from celery.schedules import crontab

from ringwatch.services import tasks
from ringwatch.services.context import Services
from ringwatch.settings import Settings, get_settings
from ringwatch.workers import telemetry  # noqa: F401  (connects the request-id signals)


class WorkerApp(Celery):  # type: ignore[misc]  # Celery ships no type hints
    """A Celery app that carries its settings and, built once per process, its services."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            "ringwatch",
            broker=tasks.celery_broker_url(settings),
            include=[
                "ringwatch.workers.ingest",
                "ringwatch.workers.detect",
                "ringwatch.workers.webhooks",
            ],
        )
        self.settings = settings

    @cached_property
    def services(self) -> Services:
        return Services(self.settings)


def make_celery(settings: Settings) -> WorkerApp:
    app = WorkerApp(settings)
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
                "task": tasks.INGEST_SWEEP,
                "schedule": max(5, settings.resend_after_s // 2),
            },
            "webhooks-deliver": {
                "task": tasks.WEBHOOKS_DELIVER,
                "schedule": 5.0,
                # A pass still queued when the next is due is redundant, not lost work.
                "options": {"expires": 15},
            },
            "detect-full-nightly": {
                "task": tasks.DETECT_FULL,
                "schedule": crontab(hour=settings.full_detection_hour_utc, minute=0),
            },
        },
        timezone="UTC",
    )
    return app


# What `celery -A ringwatch.workers.app` runs: the app of the environment's settings.
app = make_celery(get_settings())
