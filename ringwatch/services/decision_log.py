"""Where decisions go: the audit log (every input, feature and rule seen), per-account recent
decisions for the persona, and shadow records of candidate strategies.

Redis keeps them for a bounded time (`RINGWATCH_DECISION_RETENTION_DAYS`): a decision log at
hundreds per second belongs in a log store downstream, fed from the `rw:decisions` stream.
"""

from __future__ import annotations

from typing import Any

import orjson
import redis
from redis.client import Pipeline

STREAM = "rw:decisions"
PER_ACCOUNT = 50


def _decision_key(decision_id: str) -> str:
    return f"rw:decision:{decision_id}"


def _account_key(account_id: str) -> str:
    return f"rw:decisions:account:{account_id}"


def _shadow_key(strategy_key: str) -> str:
    return f"rw:shadow:{strategy_key}"


class DecisionLog:
    def __init__(
        self, client: redis.Redis, retention_days: int, stream_max: int = 1_000_000
    ) -> None:
        self._redis = client
        self._ttl_s = retention_days * 86400
        self._stream_max = stream_max

    def record(
        self,
        decision: dict[str, Any],
        shadows: dict[str, dict[str, Any]],
        pipe: Pipeline | None = None,
    ) -> None:
        """Durable when this returns (one MULTI). `pipe`: a transaction pipeline holding the
        caller's own writes, sent in the same round trip."""
        body = orjson.dumps(decision)
        if pipe is None:
            pipe = self._redis.pipeline(transaction=True)
        pipe.set(_decision_key(decision["decision_id"]), body, ex=self._ttl_s)
        account = _account_key(decision["account_id"])
        pipe.lpush(account, decision["decision_id"])
        pipe.ltrim(account, 0, PER_ACCOUNT - 1)
        pipe.expire(account, self._ttl_s)
        pipe.xadd(STREAM, {"decision": body}, maxlen=self._stream_max, approximate=True)
        for key, candidate in shadows.items():
            record = orjson.dumps(
                {
                    "decision_id": decision["decision_id"],
                    "live": decision["decision"],
                    "candidate": candidate,
                }
            )
            pipe.xadd(_shadow_key(key), {"r": record}, maxlen=self._stream_max, approximate=True)
        pipe.execute()

    def get(self, decision_id: str) -> dict[str, Any] | None:
        raw = self._redis.get(_decision_key(decision_id))
        return None if raw is None else dict(orjson.loads(raw))

    def recent(self, account_id: str, limit: int = 20) -> list[dict[str, Any]]:
        ids = self._redis.lrange(_account_key(account_id), 0, limit - 1)
        if not ids:
            return []
        raws = self._redis.mget(
            [_decision_key(i.decode() if isinstance(i, bytes) else i) for i in ids]
        )
        return [dict(orjson.loads(r)) for r in raws if r is not None]

    def shadow_records(self, strategy_key: str, limit: int) -> list[dict[str, Any]]:
        entries: list[Any] = self._redis.xrevrange(_shadow_key(strategy_key), count=limit) or []
        return [dict(orjson.loads(fields[b"r"])) for _, fields in entries]
