"""Webhook delivery against a real HTTP receiver on loopback: signatures, retries with backoff,
dead letters, redelivery, filtering, randomised delay and two workers at once.

Time is an injected clock: backoff and delays are asserted as schedules, never waited for.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
import redis

from ringwatch.errors import Invalid, NotFound
from ringwatch.graph.store import GraphStore
from ringwatch.services.changes import change
from ringwatch.services.feed import encode_cursor
from ringwatch.services.webhooks import (
    DeliveryPolicy,
    PassStats,
    WebhookService,
    delay_ms,
    verify,
)
from tests.conftest import REDIS_URL, REQUIRE
from tests.services.histories import record

pytestmark = [pytest.mark.embedded, pytest.mark.redis]

T0 = 1_780_000_000.0  # seconds
SECRET = "test-secret-0123456789abcdef"
# Not the db `redis_client` flushes: other suites flush that one, possibly mid-test.
DB = 5


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance_to_ms(self, ms: int) -> None:
        self.t = max(self.t, ms / 1000)


class Receiver:
    """A real HTTP endpoint: answers 500 to the first `fail_first` requests (and to any seq in
    `fail_seqs`), 200 otherwise; `slow_s` holds every answer back."""

    def __init__(self) -> None:
        self.fail_first = 0
        self.fail_seqs: set[int] = set()
        self.slow_s = 0.0
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.requests.append((dict(self.headers.items()), body))
                    failing = len(receiver.requests) <= receiver.fail_first
                failing = failing or orjson.loads(body)["seq"] in receiver.fail_seqs
                if receiver.slow_s:
                    time.sleep(receiver.slow_s)
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [orjson.loads(body) for _, body in self.requests]

    def seqs(self) -> list[int]:
        return [b["seq"] for b in self.bodies()]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def rds() -> Iterator[redis.Redis]:
    if not REDIS_URL:
        if REQUIRE:
            pytest.fail("Redis is required under make test but is not configured")
        pytest.skip("Redis not configured (run `make test` or `make services-up`)")
    client = redis.Redis.from_url(str(REDIS_URL), db=DB)
    yield client
    client.close()


@pytest.fixture
def prefix(rds: redis.Redis) -> Iterator[str]:
    # A key prefix per test: tests can run alongside others on the same server.
    name = f"test-wh-{uuid.uuid4().hex[:10]}"
    yield name
    keys = list(rds.scan_iter(match=f"{name}:*"))
    if keys:
        rds.delete(*keys)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_service(
    rds: redis.Redis, store: GraphStore, clock: Clock, prefix: str, seed: int = 7, **policy: Any
) -> WebhookService:
    return WebhookService(
        rds, store, DeliveryPolicy(**policy), clock=clock, rng=random.Random(seed), prefix=prefix
    )


def changes(n: int, kind: str = "escalated", subject: str = "account") -> list[dict[str, Any]]:
    return [change(kind, subject, f"acc{i}", {"risk": 0.9}) for i in range(n)]


def documented_verify(secret: str, headers: dict[str, str], body: bytes, now: float) -> bool:
    """The receiver snippet from docs/webhooks.md, written independently of `sign`."""
    timestamp = headers["Ringwatch-Timestamp"]
    if abs(now - int(timestamp)) > 300:
        return False
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    received = [p.strip() for p in headers["Ringwatch-Signature"].split(",")]
    return any(hmac.compare_digest(f"v1={mac}", r) for r in received)


def test_signed_in_order_retried_with_full_jitter_backoff(
    falkordb_store: GraphStore, rds: redis.Redis, receiver: Receiver, clock: Clock, prefix: str
) -> None:
    service = make_service(rds, falkordb_store, clock, prefix)
    sub = service.create(receiver.url, secret=SECRET)
    record(falkordb_store, "run-1", changes(3), int(T0 * 1000))
    receiver.fail_first = 2
    replay = random.Random(7)  # the jitter the service will draw, drawn again here

    assert service.deliver(sub["id"]) == PassStats(failed=1)
    state = service.get(sub["id"])["inflight"]
    first_wait = int(replay.uniform(0, 2.0) * 1000)
    assert state["seq"] == 1 and state["attempts"] == 1 and state["last_error"] == "HTTP 500"
    next_at = int(T0 * 1000) + first_wait

    # Not due yet (unless the jitter drew 0): nothing is sent, nothing overtakes seq 1.
    if first_wait > 0:
        assert service.deliver(sub["id"]) == PassStats()
        assert receiver.seqs() == [1]

    clock.advance_to_ms(next_at)
    assert service.deliver(sub["id"]) == PassStats(failed=1)
    raw = rds.hgetall(f"{prefix}:sub:{sub['id']}")
    second_wait = int(replay.uniform(0, 4.0) * 1000)  # the cap doubles: base 2 s * 2^1
    assert int(raw[b"attempts"]) == 2
    assert int(raw[b"next_at"]) == int(clock() * 1000) + second_wait

    clock.advance_to_ms(int(raw[b"next_at"]))
    assert service.deliver(sub["id"]) == PassStats(delivered=3)
    assert receiver.seqs() == [1, 1, 1, 2, 3]
    assert service.get(sub["id"])["inflight"] is None
    assert service.get(sub["id"])["delivered"] == 3

    for headers, body in receiver.requests:
        assert documented_verify(SECRET, headers, body, now=clock())
        assert verify(
            SECRET,
            headers["Ringwatch-Timestamp"],
            headers["Ringwatch-Signature"],
            body,
            now=clock(),
        )
        # Tampering, a wrong secret or a replay long after all fail.
        ts, sig = headers["Ringwatch-Timestamp"], headers["Ringwatch-Signature"]
        assert not verify(SECRET, ts, sig, body.replace(b"acc", b"acX"), now=clock())
        assert not verify("another-secret-0123456789", ts, sig, body, now=clock())
        assert not verify(SECRET, ts, sig, body, now=clock() + 301)
        assert not documented_verify(SECRET, headers, body, now=clock() + 301)
    body = receiver.bodies()[-1]
    assert body == {
        "id": f"{sub['id']}:3",
        "seq": 3,
        "kind": "escalated",
        "subject": "account",
        "subject_id": "acc2",
        "at": "2026-05-28T20:26:40.000Z",
        "detail": {"risk": 0.9},
    }


def test_backoff_is_full_jitter_under_the_cap() -> None:
    policy = DeliveryPolicy(base_s=2.0, cap_s=600.0)
    rng = random.Random(1)
    for failures in range(1, 12):
        bound = min(600.0, 2.0 * 2 ** (failures - 1))
        draws = [policy.backoff_s(failures, rng) for _ in range(200)]
        assert all(0.0 <= d <= bound for d in draws)
        # Full jitter spreads over the whole range, not just near the bound.
        assert min(draws) < bound * 0.1 and max(draws) > bound * 0.9


def test_dead_letter_after_max_attempts_then_next_change_then_redelivery(
    falkordb_store: GraphStore, rds: redis.Redis, receiver: Receiver, clock: Clock, prefix: str
) -> None:
    service = make_service(rds, falkordb_store, clock, prefix, max_attempts=4, cap_s=3.0)
    sub = service.create(receiver.url, secret=SECRET)
    record(falkordb_store, "run-1", changes(3), int(T0 * 1000))
    receiver.fail_seqs = {2}

    total = PassStats()
    for _ in range(10):
        total.add(service.deliver(sub["id"]))
        inflight = service.get(sub["id"])["inflight"]
        if inflight is None:
            break
        # Backoff is capped: never more than cap_s ahead.
        next_at = int(rds.hget(f"{prefix}:sub:{sub['id']}", "next_at") or 0)
        assert next_at - int(clock() * 1000) <= 3000
        clock.advance_to_ms(next_at)
    assert total == PassStats(delivered=2, failed=3, dead=1)
    # Seq 2 was tried exactly max_attempts times, and seq 3 went out only after it was set aside.
    assert receiver.seqs() == [1, 2, 2, 2, 2, 3]

    dead = service.dead_letters(sub["id"])
    assert [(d["seq"], d["attempts"], d["last_error"]) for d in dead["items"]] == [
        (2, 4, "HTTP 500")
    ]
    assert dead["items"][0]["subject_id"] == "acc1" and not dead["items"][0]["redelivery_queued"]

    with pytest.raises(NotFound):
        service.redeliver(sub["id"], 3)
    # A redelivery that fails again stays dead, with the attempt counted.
    assert service.redeliver(sub["id"], 2)["queued"]
    assert service.dead_letters(sub["id"])["items"][0]["redelivery_queued"]
    assert service.deliver(sub["id"]) == PassStats(failed=1)
    assert service.dead_letters(sub["id"])["items"][0]["attempts"] == 5

    receiver.fail_seqs = set()
    service.redeliver(sub["id"], 2)
    assert service.deliver(sub["id"]) == PassStats(redelivered=1)
    assert service.dead_letters(sub["id"])["items"] == []
    assert receiver.bodies()[-1]["id"] == f"{sub['id']}:2"
    for headers, body in receiver.requests:
        assert documented_verify(SECRET, headers, body, now=clock())
    assert service.get(sub["id"])["delivered"] == 3


def test_connection_errors_and_timeouts_are_failures(
    falkordb_store: GraphStore, rds: redis.Redis, receiver: Receiver, clock: Clock, prefix: str
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    service = make_service(rds, falkordb_store, clock, prefix, timeout_s=0.2)
    refused = service.create(f"http://127.0.0.1:{closed_port}/hook", secret=SECRET)
    slow = service.create(receiver.url, secret=SECRET)
    record(falkordb_store, "run-1", changes(1), int(T0 * 1000))
    receiver.slow_s = 1.0

    assert service.deliver(refused["id"]) == PassStats(failed=1)
    assert "ConnectError" in service.get(refused["id"])["inflight"]["last_error"]
    assert service.deliver(slow["id"]) == PassStats(failed=1)
    assert "Timeout" in service.get(slow["id"])["inflight"]["last_error"]
    service.close()


def test_kinds_and_subjects_filter(
    falkordb_store: GraphStore, rds: redis.Redis, receiver: Receiver, clock: Clock, prefix: str
) -> None:
    service = make_service(rds, falkordb_store, clock, prefix)
    ring_created = service.create(receiver.url, kinds=["created"], subjects=["ring"])
    accounts = service.create(receiver.url, kinds=["*"], subjects=["account"])
    cleared = service.create(receiver.url, kinds=["cleared"])
    record(
        falkordb_store,
        "run-1",
        [
            change("created", "ring", "ring_a", {"verdict": "fraud"}),  # 1
            change("escalated", "account", "acc0", {"risk": 0.9}),  # 2
            change("cleared", "ring", "ring_b", {"was": "fraud"}),  # 3
            change("cleared", "account", "acc1", {"risk": 0.1}),  # 4
            change("merged", "ring", "ring_a", {}),  # 5
        ],
        int(T0 * 1000),
    )
    service.deliver_all()
    got: dict[str, list[int]] = {}
    for body in receiver.bodies():
        sub_id, seq = body["id"].rsplit(":", 1)
        got.setdefault(sub_id, []).append(int(seq))
    assert got == {ring_created["id"]: [1], accounts["id"]: [2, 4], cleared["id"]: [3, 4]}
    # Changes nobody wanted still move each cursor on: the log is read once per subscription.
    assert {s["cursor"] for s in service.list_subscriptions()} == {encode_cursor(5)}


def test_randomised_delay_is_bounded_deterministic_and_held(
    falkordb_store: GraphStore, rds: redis.Redis, receiver: Receiver, clock: Clock, prefix: str
) -> None:
    service = make_service(rds, falkordb_store, clock, prefix)
    sub = service.create(receiver.url, secret=SECRET, max_delay_s=60)
    at_ms = int(T0 * 1000)
    record(falkordb_store, "run-1", changes(30), at_ms)

    delays = {seq: delay_ms(SECRET, sub["id"], seq, 60) for seq in range(1, 31)}
    assert all(0 <= d <= 60_000 for d in delays.values())
    assert len(set(delays.values())) > 20  # spread out, not one shared delay
    assert delays == {seq: delay_ms(SECRET, sub["id"], seq, 60) for seq in range(1, 31)}
    # Another subscription (same secret) gets another shuffle.
    assert delays != {seq: delay_ms(SECRET, "wh_other", seq, 60) for seq in range(1, 31)}

    for step_s in range(0, 61, 5):
        clock.t = T0 + step_s
        before = len(receiver.requests)
        service.deliver(sub["id"])
        now_ms = int(clock() * 1000)
        sent = receiver.seqs()[before:]
        assert all(at_ms + delays[seq] <= now_ms for seq in sent), "sent before its delay"
        assert sent == sorted(sent), "eligible changes go out in seq order"
        # Everything due by now has gone: the delay holds a change back, nothing else does.
        due = {seq for seq, d in delays.items() if at_ms + d <= now_ms}
        assert set(receiver.seqs()) == due
        # A second worker computes the same schedule from Redis state alone.
        pending = rds.zrange(f"{prefix}:sub:{sub['id']}:pending", 0, -1, withscores=True)
        assert {int(m): int(s) for m, s in pending} == {
            seq: at_ms + d for seq, d in delays.items() if seq not in due
        }
    assert sorted(receiver.seqs()) == list(range(1, 31))
    assert sorted(receiver.seqs()) != receiver.seqs(), "delays shuffled the delivery order"


def test_two_workers_at_once_deliver_each_change_once(
    falkordb_store: GraphStore, rds: redis.Redis, receiver: Receiver, clock: Clock, prefix: str
) -> None:
    service = make_service(rds, falkordb_store, clock, prefix, max_per_pass=3)
    subs = [service.create(receiver.url, secret=SECRET) for _ in range(3)]
    record(falkordb_store, "run-1", changes(12), int(T0 * 1000))

    # A worker holding a subscription's lock makes another skip it.
    with service._lock(subs[0]["id"]) as token:
        assert token is not None
        assert service.deliver(subs[0]["id"]) == PassStats(skipped_locked=1)
    assert receiver.requests == []

    def worker(seed: int) -> None:
        mine = make_service(rds, falkordb_store, clock, prefix, seed=seed, max_per_pass=3)
        for _ in range(8):
            mine.deliver_all()
        mine.close()

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Whatever the two left (passes skipped under the other's lock) is finished here; what
    # matters is that nothing went out twice.
    for _ in range(5):
        service.deliver_all()
    got: dict[str, list[int]] = {}
    for body in receiver.bodies():
        sub_id, seq = body["id"].rsplit(":", 1)
        got.setdefault(sub_id, []).append(int(seq))
    assert got == {s["id"]: list(range(1, 13)) for s in subs}


def test_subscription_lifecycle_and_validation(
    falkordb_store: GraphStore, rds: redis.Redis, receiver: Receiver, clock: Clock, prefix: str
) -> None:
    service = make_service(rds, falkordb_store, clock, prefix)
    record(falkordb_store, "run-1", changes(2), int(T0 * 1000))
    sub = service.create(receiver.url)
    backfill = service.create(receiver.url, after=encode_cursor(0))
    assert sub["secret"].startswith("whsec_") and len(sub["secret"]) > 40
    shown = [service.get(sub["id"]), *service.list_subscriptions()]
    assert all("secret" not in s for s in shown)
    assert not any(sub["secret"] in orjson.dumps(s).decode() for s in shown)
    assert sub["cursor"] == encode_cursor(2)  # from now on, not the past

    record(falkordb_store, "run-2", changes(1, kind="cleared"), int(T0 * 1000))
    service.deliver_all()
    ids = sorted(b["id"] for b in receiver.bodies())
    assert ids == sorted([f"{sub['id']}:3", *(f"{backfill['id']}:{s}" for s in (1, 2, 3))])

    service.delete(sub["id"])
    with pytest.raises(NotFound):
        service.get(sub["id"])
    with pytest.raises(NotFound):
        service.delete(sub["id"])
    assert not list(rds.scan_iter(match=f"{prefix}:sub:{sub['id']}*"))
    assert [s["id"] for s in service.list_subscriptions()] == [backfill["id"]]

    with pytest.raises(Invalid) as caught:
        service.create(
            "ftp://example.test/x",
            kinds=["Bad Kind"],
            subjects=["user"],
            secret="short",
            max_delay_s=10**7,
        )
    assert {p.field for p in caught.value.problems} == {
        "url",
        "kinds",
        "subjects",
        "secret",
        "max_delay_s",
    }
    with pytest.raises(Invalid):
        service.create(receiver.url, after="garbage!")


def test_private_targets_are_refused_when_not_allowed() -> None:
    from ringwatch.services.webhooks import private_target

    assert private_target("http://127.0.0.1:9/hook")
    assert private_target("http://10.0.0.5/hook")
    assert private_target("http://[::1]/hook")
    assert private_target("http://169.254.169.254/latest/meta-data")
    assert private_target("https://203.0.113.9/hook")  # documentation range: not global either
    assert private_target("https://8.8.8.8/hook") is None
