"""Decisions over the real store (both engines) and real Redis: live graph facts, detection
results, shadow strategies, the audit log and the persona."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from ringwatch.graph.store import GraphStore
from ringwatch.identity import IdentifierKind, Pseudonymiser
from ringwatch.services.decision_log import DecisionLog
from ringwatch.services.decisions import DecisionService, StrategySet
from ringwatch.services.detection import DetectionService
from ringwatch.services.ingest import IngestService
from ringwatch.services.intake import Intake
from tests.events import event, signup
from tests.queues import ApplyingQueue, ListQueue

pytestmark = pytest.mark.redis
REPO = Path(__file__).resolve().parents[2]

STRICT = """
id: strict
version: 1
thresholds:
  - {min: 0, action: allow}
  - {min: 10, action: block}
checkpoints:
  signup:
    rules:
      - {id: any_device_sharing, when: device_accounts >= 1, points: 10, reason: SHARED_DEVICE}
"""


@pytest.fixture
def service(
    store: GraphStore, redis_client: redis.Redis, hasher: Pseudonymiser, tmp_path: Path
) -> DecisionService:
    (tmp_path / "default.yaml").write_text((REPO / "strategies" / "default.yaml").read_text())
    (tmp_path / "strict.yaml").write_text(STRICT)
    ingest = IngestService(store, Intake(redis_client, 30), hasher, batch_size=500)
    return DecisionService(
        store,
        redis_client,
        ingest,
        StrategySet.load(tmp_path, "default", ("strict",)),
        DecisionLog(redis_client, retention_days=1),
        cache_ttl_s=0,
    )


def seed_world(service: DecisionService) -> None:
    queue = ApplyingQueue(service.ingest)
    farm = [
        signup(
            f"f{i}",
            f"farm{i}",
            ts=f"2026-03-01T10:{i:02d}:00Z",
            device_id="emu-7",
            card="stolen-1",
            ip=f"198.51.100.{i + 1}",
        )
        for i in range(8)
    ]
    banned = [
        signup(
            "b0",
            "banned-ann",
            ts="2026-01-01T00:00:00Z",
            phone="+14155550177",
            device_id="ann-phone",
        ),
        event("enforcement", "b1", "banned-ann", ts="2026-01-05T00:00:00Z", action="ban"),
    ]
    service.ingest.accept(list(enumerate(farm + banned)), queue)
    DetectionService(service.store, seed=1).run_full()


def test_signup_joining_a_known_ring_is_stopped(service: DecisionService) -> None:
    seed_world(service)
    out = service.decide(
        "newcomer",
        "signup",
        {"event_id": "n1", "type": "signup", "ts": "2026-03-02T00:00:00Z", "device_id": "emu-7"},
        ApplyingQueue(service.ingest),
    )
    assert out["action"] in {"review", "block"}
    fired = {r["rule"] for r in out["reasons"]}
    assert "device_farm" in fired and "ring_fraud" in fired
    assert out["ring"] and out["ring"]["verdict"] == "fraud" and not out["ring"]["member"]
    device_rule = next(r for r in out["reasons"] if r["rule"] == "device_farm")
    assert device_rule["seen"]["device_accounts"] == 8
    # The context event was ingested too.
    assert service.store.account("newcomer") is not None


def test_banned_identifier_and_benign_signup(service: DecisionService) -> None:
    seed_world(service)
    evader = service.decide(
        "ann-again",
        "signup",
        {"event_id": "n2", "type": "signup", "ts": "2026-03-02T00:00:00Z", "phone": "+14155550177"},
        ApplyingQueue(service.ingest),
    )
    assert "shares_banned" in {r["rule"] for r in evader["reasons"]}
    assert evader["evader"]["banned_neighbours"] == ["banned-ann"]
    fresh = service.decide(
        "someone",
        "signup",
        {
            "event_id": "n3",
            "type": "signup",
            "ts": "2026-03-02T00:00:00Z",
            "device_id": "own-phone",
            "email": "someone@example.org",
            "birthdate": "1990-05-05",
        },
        ApplyingQueue(service.ingest),
    )
    assert fresh["action"] == "allow" and fresh["reasons"] == []
    child = service.decide(
        "kid",
        "signup",
        {
            "event_id": "n4",
            "type": "signup",
            "ts": "2026-03-02T00:00:00Z",
            "birthdate": "2019-01-01",
        },
        ApplyingQueue(service.ingest),
    )
    assert child["action"] == "age_gate"


def test_decisions_are_logged_with_shadow_records(service: DecisionService) -> None:
    seed_world(service)
    queue = ApplyingQueue(service.ingest)
    ids = [
        service.decide(
            f"u{i}",
            "signup",
            {
                "event_id": f"s{i}",
                "type": "signup",
                "ts": "2026-03-02T00:00:00Z",
                "device_id": f"d{i % 2}",
            },
            queue,
        )["decision_id"]
        for i in range(4)
    ]
    stored = service.log.get(ids[0])
    assert stored is not None and stored["features"]["checkpoint"] == "signup"
    assert stored["decision"]["strategy_id"] == "default"
    report = service.shadow_report("strict")
    assert report["decisions"] == 4
    # u2 and u3 share a device with an earlier account: strict blocks them, default allows.
    assert report["candidate_stricter"] == 2
    assert report["confusion"]["allow"]["block"] == 2
    assert [d["decision_id"] for d in service.log.recent("u0")] == [ids[0]]


def test_the_events_emulator_agent_is_a_feature_of_its_decision(service: DecisionService) -> None:
    seed_world(service)
    queue = ApplyingQueue(service.ingest)

    def feature(event_id: str, **fields: str) -> object:
        context = {"event_id": event_id, "type": "login", "ts": "2026-03-02T00:00:00Z", **fields}
        decision_id = service.decide("u1", "login", context, queue)["decision_id"]
        stored = service.log.get(decision_id)
        assert stored is not None
        return stored["features"]["event_emulator"]

    agent = "Mozilla/5.0 (Linux; Android 9; SM-G973N Build/PQ3A.190605.07291528)"
    assert feature("l1", device_id="d9", user_agent=agent) is True
    assert feature("l2", device_id="d9", user_agent="App/2 (Android 14; Pixel 8)") is False
    assert feature("l3", device_id="d9") is None


def test_bad_context_is_a_422_problem(service: DecisionService) -> None:
    from ringwatch.errors import Invalid

    with pytest.raises(Invalid) as err:
        service.decide(
            "x",
            "signup",
            {"event_id": "e", "type": "signup", "ts": "soon"},
            ApplyingQueue(service.ingest),
        )
    assert err.value.problems[0].field == "context.ts"
    with pytest.raises(Invalid):
        service.decide(
            "x",
            "signup",
            {"event_id": "e", "type": "signup", "account_id": "y", "ts": "2026-03-02T00:00:00Z"},
            ApplyingQueue(service.ingest),
        )


def test_signup_velocity_from_one_subnet_is_seen(service: DecisionService) -> None:
    import datetime as dt

    from ringwatch.services.velocity import Velocity

    service.ingest.velocity = Velocity(service.redis)
    queue = ApplyingQueue(service.ingest)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    burst = [
        {
            "event_id": f"v{i}",
            "type": "signup",
            "ts": now,
            "account_id": f"burst{i}",
            "ip": f"192.0.2.{10 + i}",
        }
        for i in range(5)
    ]
    service.ingest.accept(list(enumerate(burst + burst)), queue)  # replays count once
    out = service.decide(
        "burst-next",
        "signup",
        {"event_id": "v-next", "type": "signup", "ts": now, "ip": "192.0.2.99"},
        queue,
    )
    velocity = next(r for r in out["reasons"] if r["rule"] == "subnet_velocity")
    assert velocity["seen"]["subnet_signups_1h"] == 5  # the other five, not itself


def test_context_event_counted_once_and_accepted_after_redis_lost_its_scripts(
    service: DecisionService,
) -> None:
    """The context event's acceptance rides in the decision's one Redis pipeline by the
    script's SHA: after a Redis restart (scripts flushed) it is loaded and sent again, and the
    event and its velocity count are there exactly once, a replay of it included."""
    import datetime as dt

    from ringwatch.services.velocity import Velocity

    service.ingest.velocity = Velocity(service.redis)
    queue = ListQueue()
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def signups_seen(account: str, event_id: str, ip: str) -> object:
        ctx = {"event_id": event_id, "type": "signup", "ts": now, "ip": ip}
        out = service.decide(account, "signup", ctx, queue)
        stored = service.log.get(out["decision_id"])
        assert stored is not None
        return stored["features"]["subnet_signups_1h"]

    service.redis.script_flush()
    assert signups_seen("lost-a", "lost-1", "203.0.113.7") == 0
    assert len(queue.ids) == 1 and service.redis.exists("rw:batch:" + queue.ids[0])
    assert signups_seen("lost-a", "lost-1", "203.0.113.7") == 0  # a replay: not counted again
    assert len(queue.ids) == 1  # and not accepted again
    assert signups_seen("lost-b", "lost-2", "203.0.113.8") == 1  # lost-a's signup, once
    assert len(queue.ids) == 2

GRAPH_FEATURES = (
    "device_accounts",
    "subnet_accounts",
    "shared_with_banned",
    "banned_neighbours",
    "ring_verdict",
    "ring_size",
    "ring_score",
    "evader_score",
)


def test_cached_account_row_with_live_lookups(service: DecisionService) -> None:
    """With the cache on, the second decision takes the account's row from Redis, yet who else
    uses its identifiers is read live: a banned account that joined since is seen, and the facts
    are those of a decision that read everything from the graph."""
    seed_world(service)
    service.cache_ttl_s = 60
    queue = ApplyingQueue(service.ingest)

    def graph_features(cached: bool) -> dict[str, object]:
        out = service.decide("farm0", "login", None, queue, cached=cached)
        stored = service.log.get(out["decision_id"])
        assert stored is not None
        features = {name: stored["features"][name] for name in GRAPH_FEATURES}
        # The account's age comes from the (possibly cached) row; it grows with the wall clock
        # between two decisions, so whole days are compared, not the exact value.
        features["account_age_whole_days"] = int(stored["features"]["account_age_days"])
        return features

    first = graph_features(cached=True)  # reads the graph, fills the cache
    assert service.redis.exists("rw:feat:account:farm0")
    assert first["device_accounts"] == 7 and first["subnet_accounts"] == 7
    assert first["ring_verdict"] == "fraud" and first["shared_with_banned"] == 0
    assert graph_features(cached=True) == first == graph_features(cached=False)

    joined = [
        signup("j0", "banned-bo", ts="2026-03-03T00:00:00Z", card="stolen-1"),
        event("enforcement", "j1", "banned-bo", ts="2026-03-04T00:00:00Z", action="ban"),
    ]
    service.ingest.accept(list(enumerate(joined)), queue)
    from_cache = graph_features(cached=True)
    assert from_cache["shared_with_banned"] == 1 and from_cache["banned_neighbours"] == 1
    assert from_cache == graph_features(cached=False)


def test_one_subnet_per_decision_the_events_else_the_newest() -> None:
    """Subnet count, velocity and the datacenter check must all look at the same subnet."""
    from ringwatch.services.decisions import _lookups

    row = {
        "identifiers": [
            ["USES_SUBNET", "net-newest", 9],
            ["USES_DEVICE", "dev", 2],
            ["USES_SUBNET", "net-older", 40],
        ]
    }
    keys, subnet = _lookups(row, None)
    assert subnet == "net-newest" and keys[IdentifierKind.DEVICE] == {"dev"}
    record = {"t": "login", "ids": [["subnet", "net-event"]], "ip_subnet": ["ip", "net-event"]}
    assert _lookups(row, record)[1] == "net-event"  # type: ignore[arg-type]
    service = DecisionService.__new__(DecisionService)
    assert service._account_facts(row, None).subnet == "net-newest"
    assert service._account_facts(row, record).subnet == "net-event"  # type: ignore[arg-type]
