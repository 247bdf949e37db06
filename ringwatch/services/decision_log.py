"""Where decisions go: the audit log (every input, feature and rule seen), per-account recent
decisions for the persona, and shadow records of candidate strategies.

Redis keeps them for a bounded time (`RINGWATCH_DECISION_RETENTION_DAYS`): a decision log at
hundreds per second belongs in a log store downstream, fed from the `rw:decisions` stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import redis
from redis.exceptions import NoScriptError

from ringwatch.graph.loop_redis import LoopRedis

STREAM = "rw:decisions"
PER_ACCOUNT = 50

# A decision's audit writes as ONE script call instead of a MULTI of 6-9 commands: redis-py's
# per-command work (packing, the QUEUED replies, the retry wrapper) was a measurable share of a
# decision's CPU (docs/performance.md, "Decisions", fourth round). A script runs atomically, as
# the MULTI did, and its reply comes only once every write is done. The keys and values are
# those the MULTI wrote: the record (SET EX), the account's recent ids (LPUSH, LTRIM, EXPIRE),
# the stream and each shadow stream (XADD MAXLEN ~), and the caller's cache entry (SET EX).
# KEYS: record, account list, stream, one per shadow, [cache]. ARGV: shadows, decision id,
# body, ttl, last index kept, stream max, one record per shadow, [cache value, cache ttl].
_RECORD = """
local shadows = tonumber(ARGV[1])
local decision_id, body, ttl, last, stream_max = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
redis.call('SET', KEYS[1], body, 'EX', ttl)
redis.call('LPUSH', KEYS[2], decision_id)
redis.call('LTRIM', KEYS[2], 0, last)
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('XADD', KEYS[3], 'MAXLEN', '~', stream_max, '*', 'decision', body)
for i = 1, shadows do
  redis.call('XADD', KEYS[3 + i], 'MAXLEN', '~', stream_max, '*', 'r', ARGV[6 + i])
end
if #KEYS > 3 + shadows then
  redis.call('SET', KEYS[4 + shadows], ARGV[7 + shadows], 'EX', ARGV[8 + shadows])
end
return 1
"""


@dataclass(frozen=True)
class Cached:
    """A cache entry written with a decision's audit record (`DecisionLog.record`)."""

    key: str
    value: bytes
    ttl_s: int


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
        self._record = client.register_script(_RECORD)

    def record(
        self,
        decision: dict[str, Any],
        shadows: dict[str, dict[str, Any]],
        cache: Cached | None = None,
    ) -> None:
        """Durable when this returns: ONE script call, atomic as a `MULTI` of the same writes.
        `cache`: the caller's account-row cache entry, written in the same call."""
        keys, args = self._writes(decision, shadows, cache)
        self._record(keys=keys, args=args)

    async def record_async(
        self,
        client: LoopRedis,
        decision: dict[str, Any],
        shadows: dict[str, dict[str, Any]],
        cache: Cached | None = None,
    ) -> None:
        """`record`, sent from the event loop (`graph/loop_redis.py`)."""
        keys, args = self._writes(decision, shadows, cache)
        for attempt in (1, 2):
            command = ("EVALSHA", self._record.sha, len(keys), *keys, *args)
            (answer,) = await client.execute([command])
            if isinstance(answer, NoScriptError) and attempt == 1:
                # Redis lost the script (a restart): nothing was written; load it, send again.
                (loaded,) = await client.execute([("SCRIPT", "LOAD", _RECORD)])
                if isinstance(loaded, Exception):
                    raise loaded
                self._record.sha = loaded.decode() if isinstance(loaded, bytes) else loaded
                continue
            if isinstance(answer, Exception):
                raise answer
            return

    def _writes(
        self, decision: dict[str, Any], shadows: dict[str, dict[str, Any]], cache: Cached | None
    ) -> tuple[list[str], list[Any]]:
        body = orjson.dumps(decision)
        decision_id = decision["decision_id"]
        keys = [_decision_key(decision_id), _account_key(decision["account_id"]), STREAM]
        args: list[Any] = [decision_id, body, self._ttl_s, PER_ACCOUNT - 1, self._stream_max]
        for key, candidate in shadows.items():
            keys.append(_shadow_key(key))
            record = {"decision_id": decision_id, "live": decision["decision"]}
            args.append(orjson.dumps({**record, "candidate": candidate}))
        if cache is not None:
            keys.append(cache.key)
            args += [cache.value, cache.ttl_s]
        return keys, [len(shadows), *args]

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
