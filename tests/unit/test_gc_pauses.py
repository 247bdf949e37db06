"""Collector passes are timed into the process's metrics, so a latency stall caused by a full
collection shows in /metrics."""

from __future__ import annotations

import gc

from prometheus_client import REGISTRY

from ringwatch.observability import time_gc_pauses


def _passes(generation: str) -> float:
    value = REGISTRY.get_sample_value(
        "ringwatch_gc_pause_seconds_count", {"generation": generation}
    )
    return value or 0.0


def test_a_full_collection_is_recorded_once_per_pass() -> None:
    time_gc_pauses()
    time_gc_pauses()  # installed once, whatever the callers
    before = _passes("2")
    gc.collect()
    gc.collect()
    assert _passes("2") == before + 2
    seconds = REGISTRY.get_sample_value("ringwatch_gc_pause_seconds_sum", {"generation": "2"})
    assert seconds is not None and seconds > 0
