"""Signup velocity per subnet: per-minute counters in Redis, summed over the last hour.

Counted when signups are accepted (API ingestion and decisions' context events), by event time,
so a replayed history file does not inflate today's counters (its minutes have long expired).
The counting itself is done by the intake's acceptance script (`services/intake.py`), for new
events only, in the round trip that accepts them: this module names the counters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import redis

from ringwatch.services.intake import Counters

WINDOW_MIN = 60
KEEP_S = 2 * 3600


def _key(subnet: str, minute: int) -> str:
    return f"rw:vel:signup:{subnet}:{minute}"


class Velocity:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def counters(self, records: Iterable[Mapping[str, Any]], now_s: float) -> Counters:
        """Each record's counter (None: not a signup with an IP, or older than counters are
        kept) and the counters' lifetime, for `Intake.accept`/`accept_on`."""
        return [counter(rec, now_s) for rec in records], KEEP_S

    def signups_last_hour(self, subnet: str, now_s: float) -> int:
        return total(self._redis.mget(window(subnet, now_s)))


def counter(rec: Mapping[str, Any], now_s: float) -> str | None:
    if rec["t"] != "signup" or "ip_subnet" not in rec:
        return None
    minute = int(rec["ts"]) // 60_000
    if minute * 60 < now_s - KEEP_S:
        return None
    return _key(rec["ip_subnet"][1], minute)


def window(subnet: str, now_s: float) -> list[str]:
    """The counter keys of the last hour, for one MGET (`total` sums its answer)."""
    minute = int(now_s) // 60
    return [_key(subnet, m) for m in range(minute - WINDOW_MIN + 1, minute + 1)]


def total(counts: Iterable[Any]) -> int:
    return sum(int(v) for v in counts if v is not None)
