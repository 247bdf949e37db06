"""Durable acceptance of events in Redis, before any answer is given.

Keys (one Redis, or one hash slot per key family in a cluster):
- `rw:dedupe:{day}`  hash event_id -> batch id that claimed it, by event day, expiring after the
  dedupe window: a replayed event is recognised as long as its day's ledger lives.
- `rw:batch:{id}`    the batch's normalised records, until a worker has applied them.
- `rw:pending`       sorted set batch id -> accepted time; the sweeper re-sends old entries.
- `rw:dead`          batches the engine refused, kept for inspection and redelivery.

Acceptance is one Lua script, so claims and the stored batch appear together or not at all; it
also counts each new record's signup velocity (`services/velocity.py`) when given the counter,
so a replayed event is never counted twice and no second round trip is needed.
A claim made by a batch id stays that batch's: re-accepting the same batch (a resumed file,
a retried request with the same batch id) keeps its events instead of calling them duplicates.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import orjson
import redis
from redis.commands.core import Script

from ringwatch.errors import Unavailable

# A counter key per record (None: not counted) and how long a counter lives, in seconds.
Counters = tuple[Sequence[str | None], int]

PENDING = "rw:pending"
DEAD = "rw:dead"
BATCH_PREFIX = "rw:batch:"

# Also the body of the gated acceptance of a decision's context event (`KeyService.gate`).
ACCEPT = """
local batch_id, now, ttl, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local keep_payload, counter_ttl = ARGV[5] == '1', tonumber(ARGV[6])
local kept, dupes, seen, expiring = {}, {}, {}, {}
for i = 0, n - 1 do
  local at = 7 + i * 4
  local event_id, day, record, counter = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
  local key = 'rw:dedupe:' .. day
  local ok = redis.call('HSETNX', key, event_id, batch_id)
  if ok == 1 then
    -- A day's hash needs its expiry checked once per call, not once per claim: the script
    -- runs atomically, so nothing can drop the expiry in between.
    if not expiring[key] then
      if redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, ttl) end
      expiring[key] = true
    end
  elseif redis.call('HGET', key, event_id) ~= batch_id or seen[event_id] then
    ok = -1
  end
  if ok == -1 then
    table.insert(dupes, i)
  else
    seen[event_id] = true
    table.insert(kept, record)
    if counter ~= '' then
      redis.call('INCR', counter)
      redis.call('EXPIRE', counter, counter_ttl)
    end
  end
end
if #kept > 0 and keep_payload then
  redis.call('SET', 'rw:batch:' .. batch_id, '[' .. table.concat(kept, ',') .. ']')
  redis.call('ZADD', 'rw:pending', 'NX', now, batch_id)
end
return dupes
"""


# The claim alone (`Intake.accept` without the payload and counters: file ingest, bulk load,
# enforcement), with ACCEPT's answers. Runs of event ids of one day come as `day, n, ids...`:
# one HMGET and one HSET per run instead of a Redis call per event, and one argument per event
# instead of four (bench/claims.py: Redis 4.3-4.8 -> 3.3-3.6 us of CPU per event, the client
# 2.6-3.0 -> 1.1-1.3). Writes land at the end of each run, so a later run of the same day sees
# them as a later HSETNX would.
CLAIM = """
local batch_id, ttl, at = ARGV[1], tonumber(ARGV[2]), 3
local dupes, seen, index = {}, {}, 0
while at <= #ARGV do
  local key, n = 'rw:dedupe:' .. ARGV[at], tonumber(ARGV[at + 1])
  local first = at + 2
  local held = redis.call('HMGET', key, unpack(ARGV, first, first + n - 1))
  local written, fresh = {}, {}
  for j = 1, n do
    local event_id = ARGV[first + j - 1]
    local holder = held[j]
    if not holder and not written[event_id] then
      written[event_id] = true
      seen[event_id] = true
      table.insert(fresh, event_id)
      table.insert(fresh, batch_id)
    elseif (holder or batch_id) ~= batch_id or seen[event_id] then
      table.insert(dupes, index)
    else
      seen[event_id] = true
    end
    index = index + 1
  end
  for s = 1, #fresh, CLAIM_RUN do
    redis.call('HSET', key, unpack(fresh, s, math.min(s + CLAIM_RUN - 1, #fresh)))
  end
  if #fresh > 0 and redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, ttl) end
  at = first + n
end
return dupes
"""
# Ids per run: Lua's `unpack` is bounded by its C stack (8,000 values in Redis's Lua 5.1).
CLAIM_RUN = 4000
CLAIM = CLAIM.replace("CLAIM_RUN", str(CLAIM_RUN))


class Commands(Protocol):
    """Where commands are gathered to go in one round trip: a redis-py pipeline, or the
    decisions' list for the event loop's connection (`services/decisions.py`)."""

    def __len__(self) -> int: ...

    def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> Any: ...


@dataclass(frozen=True)
class Gate:
    """A script that checks something of its own before it runs its body (`KeyService.gate`
    with `ACCEPT`, or another body), with its keys and the arguments of its check; the body's
    arguments follow them."""

    script: Script
    keys: Sequence[str]
    args: Sequence[Any]

    def send(self, pipe: Commands, body_args: Sequence[Any] = ()) -> None:
        pipe.evalsha(self.script.sha, len(self.keys), *self.keys, *self.args, *body_args)

    def load(self, client: redis.Redis) -> None:
        """After a NOSCRIPT answer (nothing ran): load the script, then send again."""
        self.script.sha = client.script_load(self.script.script)


@dataclass(frozen=True)
class Accepted:
    batch_id: str
    accepted: int
    duplicate_indexes: list[int]


class Intake:
    def __init__(self, client: redis.Redis, dedupe_window_days: int) -> None:
        self._redis = client
        self._ttl_s = (dedupe_window_days + 1) * 86400
        self._accept = client.register_script(ACCEPT)
        self._claim = client.register_script(CLAIM)

    def accept(
        self,
        batch_id: str,
        records: Sequence[Mapping[str, Any]],
        *,
        keep_payload: bool = True,
        counters: Counters | None = None,
    ) -> Accepted:
        """Claim event ids and store the new records as one pending batch.

        `keep_payload=False` only claims: for callers whose input is itself durable (a file being
        ingested directly) and who apply the batch right away. `counters`: a counter key (or
        None) per record, incremented for each record that is new, and their expiry in seconds.
        """
        try:
            if keep_payload or counters:
                answer = self._accept(args=self._argv(batch_id, records, keep_payload, counters))
            else:
                answer = self._claim(args=self._claim_argv(batch_id, records))
        except (redis.ConnectionError, redis.TimeoutError) as e:
            raise Unavailable(f"Redis is unreachable; nothing was accepted: {e}") from e
        return self.accepted(batch_id, len(records), answer)

    def accept_on(
        self,
        pipe: Commands,
        batch_id: str,
        records: Sequence[Mapping[str, Any]],
        *,
        counters: Counters | None = None,
        gate: Gate | None = None,
    ) -> None:
        """Queue the acceptance on `pipe` (sent by the caller with its own commands, one round
        trip); read its answer with `accepted`. The script goes by its SHA alone: redis-py asks
        `SCRIPT EXISTS` first (one more round trip) for a script object in a pipeline. When Redis
        has lost the script (a restart, `SCRIPT FLUSH`), the answer is a `NoScriptError`, and
        nothing of the acceptance happened: `load_script`, then send the pipeline again.

        `gate`: send the acceptance through this script instead (its own keys and arguments
        first), which runs it only when its check passes; NOSCRIPT: `Gate.load`."""
        argv = self._argv(batch_id, records, True, counters)
        if gate is None:
            pipe.evalsha(self._accept.sha, 0, *argv)
        else:
            gate.send(pipe, argv)

    def load_script(self) -> None:
        self._accept.sha = self._redis.script_load(ACCEPT)

    @staticmethod
    def accepted(batch_id: str, n: int, answer: Any) -> Accepted:
        dupes = [int(i) for i in answer]
        return Accepted(batch_id, n - len(dupes), dupes)

    def _argv(
        self,
        batch_id: str,
        records: Sequence[Mapping[str, Any]],
        keep_payload: bool,
        counters: Counters | None,
    ) -> list[Any]:
        keys: Sequence[str | None] = counters[0] if counters else [None] * len(records)
        argv: list[Any] = [
            batch_id,
            int(time.time() * 1000),
            self._ttl_s,
            len(records),
            int(keep_payload),
            counters[1] if counters else 0,
        ]
        for rec, key in zip(records, keys, strict=True):
            day = _day(rec["ts"] // DAY_MS)
            argv += [rec["id"], day, orjson.dumps(rec) if keep_payload else b"", key or ""]
        return argv

    def _claim_argv(self, batch_id: str, records: Sequence[Mapping[str, Any]]) -> list[Any]:
        argv: list[Any] = [batch_id, self._ttl_s]
        day_ms = run_day = 0
        run: list[str] = []
        for rec in records:
            ts = rec["ts"]
            # Events come in time order, so most fall on the day before them.
            if not run or not day_ms <= ts < day_ms + DAY_MS or len(run) == CLAIM_RUN:
                if run:
                    argv += [_day(run_day), len(run), *run]
                run_day = ts // DAY_MS
                day_ms, run = run_day * DAY_MS, []
            run.append(rec["id"])
        if run:
            argv += [_day(run_day), len(run), *run]
        return argv

    def load(self, batch_id: str) -> list[dict[str, Any]] | None:
        raw = self._redis.get(BATCH_PREFIX + batch_id)
        return None if raw is None else list(orjson.loads(raw))

    def complete(self, batch_id: str) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(BATCH_PREFIX + batch_id)
        pipe.zrem(PENDING, batch_id)
        pipe.execute()

    def dead_letter(self, batch_id: str, reason: str) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.zrem(PENDING, batch_id)
        pipe.hset(DEAD, batch_id, reason)
        pipe.execute()

    def overdue(self, older_than_s: float, limit: int = 1000) -> list[str]:
        """Batches pending longer than `older_than_s`, each restamped as just sent: while the
        database is down, a re-sent batch is not re-sent again until another full interval has
        passed, instead of flooding the queue with duplicates every sweep."""
        now = time.time()
        cutoff = int((now - older_than_s) * 1000)
        raw = self._redis.zrangebyscore(PENDING, 0, cutoff, start=0, num=limit)
        ids = [_text(i) for i in raw if isinstance(i, bytes | str)]
        if ids:
            # XX: a batch completed meanwhile must not come back.
            self._redis.zadd(PENDING, dict.fromkeys(ids, int(now * 1000)), xx=True)
        return ids

    def pending_count(self) -> int:
        return int(self._redis.zcard(PENDING))

    def dead(self) -> dict[str, str]:
        return {_text(k): _text(v) for k, v in self._redis.hgetall(DEAD).items()}

    def redeliver(self, batch_id: str) -> bool:
        """Move a dead batch back to pending (after the cause was fixed)."""
        if not self._redis.hdel(DEAD, batch_id):
            return False
        self._redis.zadd(PENDING, {batch_id: 0})
        return True

    def ping(self) -> None:
        try:
            self._redis.ping()
        except (redis.ConnectionError, redis.TimeoutError) as e:
            raise Unavailable(f"Redis is unreachable: {e}") from e


DAY_MS = 86_400_000


@lru_cache(maxsize=4096)
def _day(day_number: int) -> str:
    # A batch's events fall on a few days: one datetime per day, not per event.
    return dt.datetime.fromtimestamp(day_number * 86_400, tz=dt.UTC).strftime("%Y%m%d")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
