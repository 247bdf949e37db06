"""Prometheus metrics and request ids, shared by the API and the workers.

Metric objects live here, once per process, so that a service or task records a number without
knowing who serves it. With `PROMETHEUS_MULTIPROC_DIR` set (`ringwatch serve` sets it for itself
and the worker it starts; `ringwatch worker --metrics-port` for a worker of its own) every process
writes its numbers to files there and one scrape aggregates them all (docs/observability.md).
"""

from __future__ import annotations

import gc
import os
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

REQUESTS = Counter("ringwatch_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "ringwatch_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DECISIONS = Counter("ringwatch_decisions_total", "Decisions made", ["action"])
EVENTS = Counter("ringwatch_events_total", "Events received", ["outcome"])
BATCHES_APPLIED = Counter("ringwatch_batches_applied_total", "Batches applied", ["result"])
BATCHES_PENDING = Gauge(
    "ringwatch_batches_pending", "Accepted batches not yet applied", multiprocess_mode="liveall"
)
DETECTION_SECONDS = Histogram(
    "ringwatch_detection_stage_seconds",
    "Detection run duration by stage",
    ["mode", "stage"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600),
)
WEBHOOKS = Counter("ringwatch_webhook_deliveries_total", "Webhook delivery outcomes", ["outcome"])
HEALTH = Gauge(
    "ringwatch_dependency_up",
    "1 when the dependency answered the last probe",
    ["dependency"],
    multiprocess_mode="liveall",
)

# Every pass of the cyclic garbage collector stops the process's Python, the event loop with it:
# a long full pass is a latency stall that no request's own timing explains.
GC_PAUSES = Histogram(
    "ringwatch_gc_pause_seconds",
    "Passes of the cyclic garbage collector, by generation (the process's Python stands still)",
    ["generation"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)


class _GcTimer:
    def __init__(self) -> None:
        self.started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        elif self.started:
            GC_PAUSES.labels(str(info.get("generation", ""))).observe(
                time.perf_counter() - self.started
            )
            self.started = 0.0


def time_gc_pauses() -> None:
    """Record every collector pass of this process in GC_PAUSES (once per process)."""
    if not any(isinstance(callback, _GcTimer) for callback in gc.callbacks):
        gc.callbacks.append(_GcTimer())


def record_detection(mode: str, timings: dict[str, float]) -> None:
    for stage, seconds in timings.items():
        DETECTION_SECONDS.labels(mode, stage).observe(float(seconds))


def record_webhooks(delivered: int, failed: int, dead: int) -> None:
    for outcome, n in (("delivered", delivered), ("failed", failed), ("dead_letter", dead)):
        if n:
            WEBHOOKS.labels(outcome).inc(n)


def exposition() -> tuple[bytes, str]:
    """Every process's metrics in multiprocess mode, else this process's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
