"""Webhooks: verdict changes pushed to subscribers, signed, retried, dead-lettered.

The Change log is the outbox: a change is written in the same transaction as the state change it
describes, so nothing here can announce a change that did not happen or miss one that did. Each
subscription keeps its own cursor into that log; Redis holds only delivery state.

Redis layout (prefix `rw:wh`):

    rw:wh:subs                      ZSET  subscription id -> created (epoch ms)
    rw:wh:sub:{id}                  HASH  url, kinds, subjects (JSON), secret, max_delay_s,
                                          created_at, scanned (last seq read from the log),
                                          delivered, inflight, attempts, next_at, last_error
    rw:wh:sub:{id}:pending          ZSET  seq -> eligible at (epoch ms; 0 without a delay)
    rw:wh:sub:{id}:changes          HASH  seq -> change JSON, for pending seqs
    rw:wh:sub:{id}:dead             ZSET  seq -> seq (dead letters, in order)
    rw:wh:sub:{id}:dead:entries     HASH  seq -> {change, attempts, last_error, dead_at} JSON
    rw:wh:sub:{id}:redeliver        SET   dead seqs an operator asked to send again
    rw:wh:sub:{id}:lock             STR   token of the worker delivering for it (PX expiry)

Delivery is in seq order among eligible changes, one change in flight per subscription: a change
that fails blocks the ones after it (they would overtake it otherwise) until it is delivered or,
after `max_attempts`, dead-lettered. Delivery is at least once: a worker can crash between the
receiver's 2xx and recording it, so the body's `id` ("<subscription>:<seq>") is for deduplication.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import random
import re
import secrets
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import redis

from ringwatch.errors import Invalid, NotFound, Problem
from ringwatch.graph.store import GraphStore
from ringwatch.services.feed import change_item, decode_cursor, encode_cursor, rfc3339

log = logging.getLogger(__name__)

SUBJECTS = ("ring", "account")
KNOWN_KINDS = ("created", "escalated", "downgraded", "cleared", "merged", "split")
# Kinds are not a closed list: ring actions and reviews may add change kinds, and a subscription
# naming one before it first occurs is legitimate.
KIND_PATTERN = re.compile(r"^[a-z][a-z_]{0,39}$")
MAX_DELAY_S = 24 * 3600
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_S = 300

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""


@dataclass(frozen=True)
class DeliveryPolicy:
    base_s: float = 2.0
    cap_s: float = 600.0
    max_attempts: int = 8
    timeout_s: float = 5.0
    # Bounds on one worker pass, so a lock's expiry comfortably covers the work done under it.
    max_per_pass: int = 100
    pass_budget_s: float = 20.0
    lock_ttl_s: float = 60.0
    # Changes read ahead of delivery per subscription: a dead receiver does not make Redis hold
    # the whole log.
    window: int = 1000

    def backoff_s(self, failures: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^(failures-1))], so receivers coming back
        from an outage are not hit by every subscription's retries in lockstep."""
        return rng.uniform(0.0, min(self.cap_s, self.base_s * 2 ** (failures - 1)))


@dataclass(frozen=True)
class Subscription:
    id: str
    url: str
    kinds: tuple[str, ...]
    subjects: tuple[str, ...]
    secret: str
    max_delay_s: int
    created_at: int
    scanned: int = 0
    delivered: int = 0
    inflight: int | None = None
    attempts: int = 0
    next_at: int = 0
    last_error: str = ""

    def wants(self, change: Mapping[str, Any]) -> bool:
        return change["subject"] in self.subjects and (
            "*" in self.kinds or change["kind"] in self.kinds
        )

    def eligible_at(self, seq: int, at_ms: int) -> int:
        if self.max_delay_s <= 0:
            return 0
        return at_ms + delay_ms(self.secret, self.id, seq, self.max_delay_s)


@dataclass
class PassStats:
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    redelivered: int = 0
    skipped_locked: int = 0

    def add(self, other: PassStats) -> None:
        for name in ("delivered", "failed", "dead", "redelivered", "skipped_locked"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


# -- signing ---------------------------------------------------------------------------------------
def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`: the timestamp is inside the MAC so a
    captured delivery cannot be replayed later under a fresh timestamp."""
    message = str(timestamp).encode() + b"." + body
    return f"{SIGNATURE_VERSION}=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: str,
    signature: str,
    body: bytes,
    *,
    now: float,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    """What a receiver does (docs/webhooks.md has the same in plain Python)."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(now - ts) > tolerance_s:
        return False
    expected = sign(secret, ts, body)
    # A header may list several signatures (during secret rotation); any valid one will do.
    return any(hmac.compare_digest(expected, s.strip()) for s in signature.split(","))


def delay_ms(secret: str, sub_id: str, seq: int, max_delay_s: int) -> int:
    """A delay in [0, max_delay_s] fixed per (subscription, seq), so a retry or a second worker
    computes the same one, and keyed by the secret so it cannot be predicted from outside."""
    digest = hmac.new(secret.encode(), f"delay:{sub_id}:{seq}".encode(), hashlib.sha256).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return int(fraction * max_delay_s * 1000)


# -- the service -----------------------------------------------------------------------------------
def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass
class WebhookService:
    redis: redis.Redis
    store: GraphStore
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.SystemRandom)
    http: httpx.Client | None = None
    prefix: str = "rw:wh"
    # Off in production: a key that manages webhooks must not make the worker call internal
    # services (metadata endpoints, admin ports). Checked at registration and before each send,
    # since DNS can change between the two.
    allow_private: bool = True

    def __post_init__(self) -> None:
        self._own_http = self.http is None

    def _client(self) -> httpx.Client:
        if self.http is None:
            # No redirects: a 3xx is not a delivery, and following one could send signed
            # verdicts to a host the subscriber never registered.
            self.http = httpx.Client(timeout=self.policy.timeout_s, follow_redirects=False)
        return self.http

    def close(self) -> None:
        if self._own_http and self.http is not None:
            self.http.close()
            self.http = None

    # -- keys ------------------------------------------------------------------------------------
    def _subs(self) -> str:
        return f"{self.prefix}:subs"

    def _key(self, sub_id: str, part: str = "") -> str:
        return f"{self.prefix}:sub:{sub_id}" + (f":{part}" if part else "")

    def _all_keys(self, sub_id: str) -> list[str]:
        parts = ("", "pending", "changes", "dead", "dead:entries", "redeliver")
        return [self._key(sub_id, p) for p in parts]

    # -- subscriptions ---------------------------------------------------------------------------
    def create(
        self,
        url: str,
        kinds: Sequence[str] = ("*",),
        subjects: Sequence[str] = SUBJECTS,
        secret: str | None = None,
        max_delay_s: int = 0,
        after: str | None = None,
    ) -> dict[str, Any]:
        """Register a subscriber. The secret is in this answer and never again."""
        problems = _validate(url, kinds, subjects, secret, max_delay_s)
        if not problems and not self.allow_private and (reason := private_target(url)):
            problems.append(Problem("url", reason))
        if problems:
            raise Invalid("invalid subscription", problems)
        # Default: the last committed seq (consumers backfill from the feed).
        start = decode_cursor(after) if after else self.store.last_change_seq()
        sub_id = "wh_" + uuid.uuid4().hex[:20]
        secret = secret or "whsec_" + secrets.token_urlsafe(32)
        created = int(self.clock() * 1000)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(
            self._key(sub_id),
            mapping={
                "url": url,
                "kinds": orjson.dumps(sorted(set(kinds))),
                "subjects": orjson.dumps(sorted(set(subjects))),
                "secret": secret,
                "max_delay_s": max_delay_s,
                "created_at": created,
                "scanned": start,
                "delivered": 0,
                "inflight": "",
                "attempts": 0,
                "next_at": 0,
                "last_error": "",
            },
        )
        pipe.zadd(self._subs(), {sub_id: created})
        pipe.execute()
        return {**self.get(sub_id), "secret": secret}

    def get(self, sub_id: str) -> dict[str, Any]:
        sub = self._load(sub_id)
        if sub is None:
            raise NotFound(f"no webhook subscription {sub_id!r}")
        return self._view(sub)

    def list_subscriptions(self) -> list[dict[str, Any]]:
        out = []
        for raw in self.redis.zrange(self._subs(), 0, -1):
            sub = self._load(_text(raw))
            if sub is not None:
                out.append(self._view(sub))
        return out

    def delete(self, sub_id: str) -> None:
        if not self.redis.zrem(self._subs(), sub_id):
            raise NotFound(f"no webhook subscription {sub_id!r}")
        # A worker mid-pass may write state back after this; it re-checks membership at the end
        # of its pass and removes what it left.
        self.redis.delete(*self._all_keys(sub_id))

    def dead_letters(self, sub_id: str, after: int = 0, limit: int = 100) -> dict[str, Any]:
        if self._load(sub_id) is None:
            raise NotFound(f"no webhook subscription {sub_id!r}")
        seqs = [
            _text(s)
            for s in self.redis.zrangebyscore(
                self._key(sub_id, "dead"), f"({after}", "+inf", start=0, num=limit
            )
        ]
        entries = self.redis.hmget(self._key(sub_id, "dead:entries"), seqs) if seqs else []
        queued = {_text(s) for s in self.redis.smembers(self._key(sub_id, "redeliver"))}
        items = []
        for seq, raw in zip(seqs, entries, strict=True):
            if raw is None:
                continue
            entry = orjson.loads(raw)
            items.append(
                {
                    **entry["change"],
                    "attempts": entry["attempts"],
                    "last_error": entry["last_error"],
                    "dead_at": entry["dead_at"],
                    "redelivery_queued": seq in queued,
                }
            )
        return {"items": items, "next_after": int(seqs[-1]) if seqs else after}

    def redeliver(self, sub_id: str, seq: int) -> dict[str, Any]:
        """Queue a dead letter for one more attempt at the next worker pass; it leaves the
        dead-letter list only once delivered."""
        if self._load(sub_id) is None:
            raise NotFound(f"no webhook subscription {sub_id!r}")
        if self.redis.zscore(self._key(sub_id, "dead"), seq) is None:
            raise NotFound(f"no dead letter {seq} for subscription {sub_id!r}")
        self.redis.sadd(self._key(sub_id, "redeliver"), seq)
        return {"id": sub_id, "seq": seq, "queued": True}

    # -- delivery --------------------------------------------------------------------------------
    def deliver_all(self) -> PassStats:
        total = PassStats()
        for raw in self.redis.zrange(self._subs(), 0, -1):
            total.add(self.deliver(_text(raw)))
        return total

    def deliver(self, sub_id: str) -> PassStats:
        """One pass for one subscription. Two workers at once: the second skips it."""
        stats = PassStats()
        with self._lock(sub_id) as token:
            if token is None:
                stats.skipped_locked = 1
                return stats
            try:
                self._pass(sub_id, token, stats)
            finally:
                if self.redis.zscore(self._subs(), sub_id) is None:
                    self.redis.delete(*self._all_keys(sub_id))
        return stats

    def _pass(self, sub_id: str, token: str, stats: PassStats) -> None:
        sub = self._load(sub_id)
        if sub is None:
            return
        started = time.monotonic()
        self._send_redeliveries(sub, stats)
        sends = 0
        while sends < self.policy.max_per_pass:
            if time.monotonic() - started > self.policy.pass_budget_s:
                break
            if not self._extend(sub_id, token):
                log.warning("webhook %s: lock lost mid-pass; stopping", sub_id)
                break
            sub = self._load(sub_id)
            if sub is None:
                return
            head = self._head(sub)
            if head is None:
                break
            seq, change = head
            if sub.inflight == seq and sub.next_at > self._now_ms():
                break  # backing off; what follows waits behind it
            sends += 1
            ok, error = self._send(sub, change)
            if ok:
                self._delivered(sub, seq)
                stats.delivered += 1
                continue
            attempts = (sub.attempts if sub.inflight == seq else 0) + 1
            if attempts >= self.policy.max_attempts:
                self._dead_letter(sub, seq, change, attempts, error)
                stats.dead += 1
                continue  # the next change is not held hostage by a poisoned one
            retry_in = self.policy.backoff_s(attempts, self.rng)
            self.redis.hset(
                self._key(sub_id),
                mapping={
                    "inflight": seq,
                    "attempts": attempts,
                    "next_at": self._now_ms() + int(retry_in * 1000),
                    "last_error": error,
                },
            )
            stats.failed += 1
            break

    def _head(self, sub: Subscription) -> tuple[int, dict[str, Any]] | None:
        """The change to send next: the one in flight, else the lowest eligible seq."""
        if sub.inflight is not None:
            raw = self.redis.hget(self._key(sub.id, "changes"), sub.inflight)
            if raw is not None:
                return sub.inflight, orjson.loads(raw)
            self.redis.hset(self._key(sub.id), mapping={"inflight": "", "attempts": 0})
        self._scan(sub)
        due = self.redis.zrangebyscore(self._key(sub.id, "pending"), "-inf", self._now_ms())
        if not due:
            return None
        seq = min(int(_text(s)) for s in due)
        raw = self.redis.hget(self._key(sub.id, "changes"), seq)
        if raw is None:
            self.redis.zrem(self._key(sub.id, "pending"), seq)
            return self._head(sub)
        return seq, orjson.loads(raw)

    def _scan(self, sub: Subscription) -> None:
        """Read the log after the subscription's cursor into its pending set, up to the window."""
        scanned = int(_text(self.redis.hget(self._key(sub.id), "scanned") or b"0"))
        while (room := self.policy.window - self.redis.zcard(self._key(sub.id, "pending"))) > 0:
            page = min(room, 500)
            rows = self.store.changes_page(scanned, page)
            if not rows:
                return
            pipe = self.redis.pipeline(transaction=True)
            for row in rows:
                item = change_item(row)
                if sub.wants(item):
                    seq = item["seq"]
                    pipe.zadd(
                        self._key(sub.id, "pending"),
                        {str(seq): sub.eligible_at(seq, int(row["at"]))},
                    )
                    pipe.hset(self._key(sub.id, "changes"), str(seq), orjson.dumps(item))
            scanned = int(rows[-1]["seq"])
            pipe.hset(self._key(sub.id), "scanned", scanned)
            pipe.execute()
            if len(rows) < page:
                return

    def _send(self, sub: Subscription, change: Mapping[str, Any]) -> tuple[bool, str]:
        body = payload(sub.id, change)
        timestamp = int(self.clock())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Ringwatch-Webhooks/1",
            "Ringwatch-Timestamp": str(timestamp),
            "Ringwatch-Signature": sign(sub.secret, timestamp, body),
        }
        if not self.allow_private and (reason := private_target(sub.url)):
            return False, reason
        try:
            response = self._client().post(sub.url, content=body, headers=headers)
        except httpx.HTTPError as e:
            return False, f"{type(e).__name__}: {e}"[:500]
        if 200 <= response.status_code < 300:
            return True, ""
        return False, f"HTTP {response.status_code}"

    def _delivered(self, sub: Subscription, seq: int) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(self._key(sub.id, "pending"), seq)
        pipe.hdel(self._key(sub.id, "changes"), seq)
        pipe.hset(
            self._key(sub.id),
            mapping={"inflight": "", "attempts": 0, "next_at": 0, "last_error": ""},
        )
        pipe.hincrby(self._key(sub.id), "delivered", 1)
        pipe.execute()

    def _dead_letter(
        self, sub: Subscription, seq: int, change: Mapping[str, Any], attempts: int, error: str
    ) -> None:
        entry = {
            "change": dict(change),
            "attempts": attempts,
            "last_error": error,
            "dead_at": rfc3339(self._now_ms()),
        }
        log.warning(
            "webhook %s: change %d dead-lettered after %d attempts: %s",
            sub.id,
            seq,
            attempts,
            error,
        )
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(self._key(sub.id, "dead"), {str(seq): seq})
        pipe.hset(self._key(sub.id, "dead:entries"), seq, orjson.dumps(entry))
        pipe.zrem(self._key(sub.id, "pending"), seq)
        pipe.hdel(self._key(sub.id, "changes"), seq)
        pipe.hset(
            self._key(sub.id),
            mapping={"inflight": "", "attempts": 0, "next_at": 0, "last_error": ""},
        )
        pipe.execute()

    def _send_redeliveries(self, sub: Subscription, stats: PassStats) -> None:
        queued = sorted(int(_text(s)) for s in self.redis.smembers(self._key(sub.id, "redeliver")))
        for seq in queued:
            raw = self.redis.hget(self._key(sub.id, "dead:entries"), seq)
            if raw is None:
                self.redis.srem(self._key(sub.id, "redeliver"), seq)
                continue
            entry = orjson.loads(raw)
            ok, error = self._send(sub, entry["change"])
            pipe = self.redis.pipeline(transaction=True)
            pipe.srem(self._key(sub.id, "redeliver"), seq)
            if ok:
                pipe.zrem(self._key(sub.id, "dead"), seq)
                pipe.hdel(self._key(sub.id, "dead:entries"), seq)
                pipe.hincrby(self._key(sub.id), "delivered", 1)
                stats.redelivered += 1
            else:
                entry["attempts"] += 1
                entry["last_error"] = error
                pipe.hset(self._key(sub.id, "dead:entries"), seq, orjson.dumps(entry))
                stats.failed += 1
            pipe.execute()

    # -- helpers ---------------------------------------------------------------------------------
    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _load(self, sub_id: str) -> Subscription | None:
        raw = self.redis.hgetall(self._key(sub_id))
        if not raw or (b"url" not in raw and "url" not in raw):
            return None
        h = {_text(k): _text(v) for k, v in raw.items()}
        return Subscription(
            id=sub_id,
            url=h["url"],
            kinds=tuple(orjson.loads(h["kinds"])),
            subjects=tuple(orjson.loads(h["subjects"])),
            secret=h["secret"],
            max_delay_s=int(h.get("max_delay_s") or 0),
            created_at=int(h.get("created_at") or 0),
            scanned=int(h.get("scanned") or 0),
            delivered=int(h.get("delivered") or 0),
            inflight=int(h["inflight"]) if h.get("inflight") else None,
            attempts=int(h.get("attempts") or 0),
            next_at=int(h.get("next_at") or 0),
            last_error=h.get("last_error", ""),
        )

    def _view(self, sub: Subscription) -> dict[str, Any]:
        """A subscription as the API shows it: never the secret."""
        inflight = None
        if sub.inflight is not None:
            inflight = {
                "seq": sub.inflight,
                "attempts": sub.attempts,
                "next_attempt_at": rfc3339(sub.next_at),
                "last_error": sub.last_error,
            }
        return {
            "id": sub.id,
            "url": sub.url,
            "kinds": list(sub.kinds),
            "subjects": list(sub.subjects),
            "max_delay_s": sub.max_delay_s,
            "created_at": rfc3339(sub.created_at),
            "cursor": encode_cursor(sub.scanned),
            "pending": int(self.redis.zcard(self._key(sub.id, "pending"))),
            "delivered": sub.delivered,
            "dead": int(self.redis.zcard(self._key(sub.id, "dead"))),
            "inflight": inflight,
        }

    @contextmanager
    def _lock(self, sub_id: str) -> Iterator[str | None]:
        token = uuid.uuid4().hex
        key = self._key(sub_id, "lock")
        if not self.redis.set(key, token, nx=True, px=int(self.policy.lock_ttl_s * 1000)):
            yield None
            return
        try:
            yield token
        finally:
            self.redis.eval(_RELEASE, 1, key, token)

    def _extend(self, sub_id: str, token: str) -> bool:
        ttl = int(self.policy.lock_ttl_s * 1000)
        return bool(self.redis.eval(_EXTEND, 1, self._key(sub_id, "lock"), token, ttl))


def payload(sub_id: str, change: Mapping[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "id": f"{sub_id}:{change['seq']}",
            "seq": change["seq"],
            "kind": change["kind"],
            "subject": change["subject"],
            "subject_id": change["subject_id"],
            "at": change["at"],
            "detail": change["detail"],
        }
    )


def _validate(
    url: str,
    kinds: Sequence[str],
    subjects: Sequence[str],
    secret: str | None,
    max_delay_s: int,
) -> list[Problem]:
    problems: list[Problem] = []
    try:
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host or len(url) > 2000:
            problems.append(Problem("url", "must be an http(s) URL with a host"))
    except (httpx.InvalidURL, TypeError):
        problems.append(Problem("url", "not a URL"))
    if not kinds:
        problems.append(Problem("kinds", 'at least one kind, or "*"'))
    for kind in kinds:
        if kind != "*" and not KIND_PATTERN.match(kind):
            problems.append(Problem("kinds", f"{kind!r} is not a change kind"))
    if not subjects or any(s not in SUBJECTS for s in subjects):
        problems.append(Problem("subjects", f"a non-empty subset of {list(SUBJECTS)}"))
    if secret is not None and not 16 <= len(secret) <= 200:
        problems.append(Problem("secret", "16 to 200 characters"))
    if not 0 <= max_delay_s <= MAX_DELAY_S:
        problems.append(Problem("max_delay_s", f"0..{MAX_DELAY_S}"))
    return problems


def private_target(url: str) -> str | None:
    """Why `url` may not be called when private targets are refused, or None if it may."""
    host = httpx.URL(url).host
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return f"cannot resolve {host!r}"
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            return f"{host!r} resolves to a non-public address ({address})"
    return None
