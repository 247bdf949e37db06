"""Signup velocity per subnet: per-minute counters in Redis, summed over the last hour.

Counted when signups are accepted (API ingestion and decisions' context events), by event time,
so a replayed history file does not inflate today's counters (its minutes have long expired).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import redis

WINDOW_MIN = 60
KEEP_S = 2 * 3600


def _key(subnet: str, minute: int) -> str:
    return f"rw:vel:signup:{subnet}:{minute}"


class Velocity:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def record(self, records: Iterable[Mapping[str, Any]], now_s: float) -> None:
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
        if n:
            pipe.execute()

    def signups_last_hour(self, subnet: str, now_s: float) -> int:
        minute = int(now_s) // 60
        keys = [_key(subnet, m) for m in range(minute - WINDOW_MIN + 1, minute + 1)]
        return sum(int(v) for v in self._redis.mget(keys) if v is not None)
