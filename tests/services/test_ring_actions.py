"""Coordinated ring actions on both engines with real Redis: one audited, idempotent operation."""

from __future__ import annotations

import pytest
import redis

from ringwatch.errors import Invalid, NotFound
from ringwatch.graph.store import GraphStore
from ringwatch.identity import Pseudonymiser
from ringwatch.services import audit
from ringwatch.services.detection_queue import DetectionQueue
from ringwatch.services.ring_actions import RingAction, RingActionService
from tests.services.histories import FARM, farm, ingest
from tests.services.reviews_world import (
    ALICE,
    BOB,
    detect,
    event,
    ingest_service,
    ring_of,
)

pytestmark = [pytest.mark.redis, pytest.mark.embedded]


@pytest.fixture
def actions(
    store: GraphStore, redis_client: redis.Redis, hasher: Pseudonymiser
) -> RingActionService:
    ingest(store, hasher, "b1", farm())
    detect(store)
    return RingActionService(store, ingest_service(store, redis_client, hasher), redis_client)


def _snapshot(store: GraphStore, ring_id: str) -> tuple[object, ...]:
    return (
        store.changes_page(0, 10_000),
        audit.page(store, None, "", 500)["items"],
        {a: store.enforcement_history(a) for a in FARM},
        store.ring(ring_id),
    )


def test_ban_all_members_once_with_changes_and_audit(
    store: GraphStore, actions: RingActionService, redis_client: redis.Redis
) -> None:
    ring_id = ring_of(store, "farm0")
    seen = len(store.changes_page(0, 10_000))

    out = actions.apply(ring_id, RingAction("ban", "card-testing farm"), ALICE, "key-1")
    assert out["members"] == sorted(FARM) and out["action"] == "ban" and not out["replayed"]
    ring = store.ring(ring_id)
    assert ring is not None
    assert {m["id"]: m["status"] for m in ring["members"]} == dict.fromkeys(FARM, "ban")
    assert all(m["banned_at"] for m in ring["members"])
    for account in FARM:
        (enforced,) = store.enforcement_history(account)
        assert enforced["action"] == "ban" and enforced["actor"] == "k_alice/alice"
    # The next incremental run looks at the banned members again.
    assert set(FARM) <= set(DetectionQueue(redis_client).take_dirty(100))

    told = store.changes_page(seen, 1000)
    assert {(c["kind"], c["subject"], c["subject_id"]) for c in told} == {
        ("actioned", "ring", ring_id),
        *{("actioned", "account", a) for a in FARM},
    }
    assert [c["seq"] for c in told] == list(range(seen + 1, seen + 1 + len(told)))

    (ring_entry,) = audit.of_subject(store, "ring", ring_id)
    assert ring_entry["action"] == "ring.ban" and ring_entry["actor"] == "k_alice/alice"
    assert ring_entry["reason"] == "card-testing farm"
    assert ring_entry["before"]["member_status"] == dict.fromkeys(FARM)
    assert ring_entry["after"]["member_status"] == dict.fromkeys(FARM, "ban")
    (account_entry,) = audit.of_subject(store, "account", "farm3")
    assert account_entry["before"] == {"status": None}
    assert account_entry["after"]["status"] == "ban"
    assert account_entry["at"] == ring_entry["at"]  # one batch, one clock

    # A retry with the same Idempotency-Key changes nothing and answers the same.
    before = _snapshot(store, ring_id)
    again = actions.apply(ring_id, RingAction("ban", "card-testing farm"), ALICE, "key-1")
    assert again["replayed"] and again["members"] == out["members"]
    assert again["operation"] == out["operation"]
    assert _snapshot(store, ring_id) == before
    # The same key for another action is refused, not silently replayed.
    with pytest.raises(Invalid):
        actions.apply(ring_id, RingAction("suspend", "oops"), ALICE, "key-1")
    # Keys are per caller: Bob's "key-1" is his own operation.
    bob = actions.apply(ring_id, RingAction("suspend", "second look"), BOB, "key-1")
    assert not bob["replayed"] and bob["operation"] != out["operation"]


def test_subset_exclude_banned_and_refusals(
    store: GraphStore, actions: RingActionService, hasher: Pseudonymiser
) -> None:
    ring_id = ring_of(store, "farm0")
    with pytest.raises(NotFound):
        actions.apply("ring_nope", RingAction("ban", "x"), ALICE)
    with pytest.raises(Invalid) as refused:
        actions.apply(ring_id, RingAction("ban", "x", members=("farm1", "stranger")), ALICE)
    assert [p.field for p in refused.value.problems] == ["members"]
    with pytest.raises(Invalid):
        actions.apply(ring_id, RingAction("obliterate", "x"), ALICE)

    ingest(
        store,
        hasher,
        "b2",
        [
            event("enforcement", "ban-f0", "farm0", ts="2026-03-02T00:00:00Z", action="ban"),
        ],
    )
    out = actions.apply(
        ring_id,
        RingAction(
            "restrict", "look closer", members=("farm0", "farm1", "farm2"), exclude_banned=True
        ),
        ALICE,
    )
    assert out["members"] == ["farm1", "farm2"] and out["subset"]
    ring = store.ring(ring_id)
    assert ring is not None
    status = {m["id"]: m["status"] for m in ring["members"]}
    assert status["farm0"] == "ban" and status["farm1"] == "restrict" and status["farm3"] is None
    # Nothing left to act on is a refusal, not an empty operation.
    with pytest.raises(Invalid):
        actions.apply(
            ring_id, RingAction("ban", "x", members=("farm0",), exclude_banned=True), ALICE
        )
