"""Signup velocity per subnet: per-minute counters in Redis, summed over the last hour.

Counted when signups are accepted (API ingestion and decisions' context events), by event time,
so a replayed history file does not inflate today's counters (its minutes have long expired).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import redis
from redis.client import Pipeline

WINDOW_MIN = 60
KEEP_S = 2 * 3600


def _key(subnet: str, minute: int) -> str:
    return f"rw:vel:signup:{subnet}:{minute}"


class Velocity:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def record(
        self, records: Iterable[Mapping[str, Any]], now_s: float, pipe: Pipeline | None = None
    ) -> None:
        """With `pipe`, the counts are queued on it for the caller to send with its own
        commands (a decision sends them with its other reads: one round trip)."""
        own = pipe is None
        if pipe is None:
            pipe = self._redis.pipeline(transaction=False)
        n = 0
        for rec in records:
            if rec["t"] != "signup" or "ip_subnet" not in rec:
                continue
            minute = int(rec["ts"]) // 60_000
            if minute * 60 < now_s - KEEP_S:
                continue
            key = _key(rec["ip_subnet"][1], minute)
            pipe.incr(key)
            pipe.expire(key, KEEP_S)
            n += 1
        if n and own:
            pipe.execute()

    def signups_last_hour(self, subnet: str, now_s: float) -> int:
        return total(self._redis.mget(window(subnet, now_s)))


def window(subnet: str, now_s: float) -> list[str]:
    """The counter keys of the last hour, for one MGET (`total` sums its answer)."""
    minute = int(now_s) // 60
    return [_key(subnet, m) for m in range(minute - WINDOW_MIN + 1, minute + 1)]


def total(counts: Iterable[Any]) -> int:
    return sum(int(v) for v in counts if v is not None)
