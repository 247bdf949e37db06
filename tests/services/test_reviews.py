"""The review queue on both engines with real Redis: items from decisions and detection, the claim
lifecycle, and labels that change later detections (bans that seed repeat-offender matching, and
`legit` rings that stay benign until their evidence grows)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import redis

from ringwatch.errors import Conflict
from ringwatch.graph.store import GraphStore
from ringwatch.identity import Pseudonymiser
from ringwatch.services import audit, results, reviews
from ringwatch.services.detection import DetectionService
from ringwatch.services.reviews import ReviewService
from tests.events import event, signup
from tests.services.histories import farm, ingest
from tests.services.reviews_world import (
    ALICE,
    BOB,
    CREW,
    crew,
    detect,
    ingest_service,
    joe,
    ring_of,
)

pytestmark = [pytest.mark.redis, pytest.mark.embedded]


@pytest.fixture
def queue(store: GraphStore, redis_client: redis.Redis, hasher: Pseudonymiser) -> ReviewService:
    return ReviewService(store, ingest_service(store, redis_client, hasher), redis_client)


def decision(account: str, score: float, decision_id: str = "dec_1") -> dict[str, Any]:
    return {
        "decision_id": decision_id,
        "account_id": account,
        "checkpoint": "signup",
        "action": "review",
        "score": score,
        "reasons": [{"rule": "shared_device", "points": score}],
        "ring": None,
    }


def open_items(queue: ReviewService) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = queue.page("open")["items"]
    return items


def test_decisions_open_and_escalate_one_item_per_account(
    store: GraphStore, queue: ReviewService, hasher: Pseudonymiser
) -> None:
    ingest(store, hasher, "b1", joe())
    reviews.queue_decision(store, {**decision("joe", 40), "action": "allow"})
    assert open_items(queue) == []

    reviews.queue_decision(store, decision("joe", 40, "dec_1"))
    reviews.queue_decision(store, decision("joe", 65.5, "dec_2"))
    reviews.queue_decision(store, decision("joe", 50, "dec_3"))
    (item,) = open_items(queue)
    assert item["subject_type"] == "account" and item["subject_id"] == "joe"
    assert item["priority"] == 65.5 and item["sources"] == 3
    assert item["source"]["decision_id"] == "dec_3"

    trail = audit.of_subject(store, "account", "joe")
    actions = [e["action"] for e in trail]
    assert actions == ["review.created", "review.escalated", "review.escalated"]
    assert all(e["actor"] == "system" for e in trail)
    assert trail[0]["before"] is None
    assert trail[1]["before"] == {"priority": 40, "review": item["id"]}


def test_claim_conflict_lapse_and_resolve(
    store: GraphStore, queue: ReviewService, hasher: Pseudonymiser, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest(store, hasher, "b1", joe())
    reviews.queue_decision(store, decision("joe", 40))
    (item,) = open_items(queue)
    rid = item["id"]

    claimed = queue.claim(rid, ALICE)
    assert claimed["status"] == "claimed" and claimed["claimant"] == "k_alice"
    assert open_items(queue) == []
    assert [i["id"] for i in queue.page("claimed")["items"]] == [rid]
    with pytest.raises(Conflict):
        queue.claim(rid, BOB)
    with pytest.raises(Conflict):
        queue.resolve(rid, BOB, "legit")
    assert queue.claim(rid, ALICE)["claimant"] == "k_alice"  # re-claiming extends one's own

    # Thirty-one minutes later Alice's claim has lapsed: the item is open to anyone again.
    real = audit.now_ms
    monkeypatch.setattr(reviews, "now_ms", lambda: real() + 31 * 60_000)
    assert [i["id"] for i in open_items(queue)] == [rid]
    assert open_items(queue)[0]["claimant"] is None
    assert queue.claim(rid, BOB)["claimant"] == "k_bob"
    with pytest.raises(Conflict):
        queue.resolve(rid, ALICE, "fraud")

    done = queue.resolve(rid, BOB, "unsure", "can't tell from one signup")
    assert done["status"] == "resolved" and done["label"] == "unsure"
    assert done["note"] == "can't tell from one signup" and done["effects"] == {}
    assert queue.resolve(rid, BOB, "unsure")["status"] == "resolved"  # Bob's retry
    with pytest.raises(Conflict):
        queue.resolve(rid, ALICE, "fraud")
    with pytest.raises(Conflict):
        queue.claim(rid, ALICE)
    assert [i["id"] for i in queue.page("resolved")["items"]] == [rid]
    assert store.enforcement_history("joe") == []  # `unsure` enforces nothing

    trail = [(e["action"], e["actor"]) for e in audit.of_subject(store, "account", "joe")]
    assert trail == [
        ("review.created", "system"),
        ("review.claimed", "k_alice/alice"),
        ("review.claimed", "k_alice/alice"),
        ("review.claimed", "k_bob/bob"),
        ("review.resolved", "k_bob/bob"),
    ]
    resolved = audit.of_subject(store, "account", "joe")[-1]
    assert resolved["before"]["status"] == "claimed" and resolved["after"]["label"] == "unsure"

    # A new decision after resolution opens a new item rather than reviving the old one.
    reviews.queue_decision(store, decision("joe", 45, "dec_9"))
    (fresh,) = open_items(queue)
    assert fresh["id"] != rid


def test_priority_order_and_paging(store: GraphStore, queue: ReviewService) -> None:
    for i, score in enumerate([10, 90, 50, 70, 30]):
        reviews.queue_decision(store, decision(f"acc{i}", score, f"dec_{i}"))
    first = queue.page("open", "priority", limit=2)
    second = queue.page("open", "priority", limit=2, cursor=first["next_cursor"])
    third = queue.page("open", "priority", limit=2, cursor=second["next_cursor"])
    got = [i["priority"] for p in (first, second, third) for i in p["items"]]
    assert got == [90, 70, 50, 30, 10]
    oldest = queue.page("open", "created", limit=10)["items"]
    assert sorted(i["subject_id"] for i in oldest) == [f"acc{i}" for i in range(5)]


def test_fraud_label_bans_and_seeds_repeat_offender_matching(
    store: GraphStore, queue: ReviewService, hasher: Pseudonymiser
) -> None:
    # The farm is there only so that the run has evidence columns: ring_features cannot yet
    # judge a snapshot where a ring forms without any (a detector edge case, reported).
    ingest(store, hasher, "b1", [*joe(), *farm()])
    reviews.queue_decision(store, decision("joe", 80))
    (item,) = open_items(queue)
    queue.claim(item["id"], ALICE)
    done = queue.resolve(item["id"], ALICE, "fraud", "same person as a banned scammer")
    assert done["effects"]["action"] == "ban" and done["effects"]["accounts"] == ["joe"]
    (ban,) = store.enforcement_history("joe")
    assert ban["action"] == "ban" and ban["actor"] == "k_alice/alice"
    assert [c["kind"] for c in store.changes_page(0, 100) if c["subject_id"] == "joe"] == [
        "actioned"
    ]

    # Joe comes back after the ban with the same phone: the next detection run matches him.
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ingest(
        store,
        hasher,
        "b2",
        [
            signup(
                "s-joe2",
                "joe-again",
                ts=later,
                phone="+14155550123",
                display_name="Josef Kowalsky",
                birthdate="1988-07-14",
            ),
        ],
    )
    DetectionService(store, seed=3).run_full()
    again = results.account_view(store, "joe-again")
    assert [m["banned"] for m in again["evader_matches"]][:1] == ["joe"]


def test_fraud_action_is_configurable_and_underage_age_gates(
    store: GraphStore, redis_client: redis.Redis, hasher: Pseudonymiser
) -> None:
    ingest(store, hasher, "b1", [*joe(), signup("s-kid", "kid", device_id="kid-tab")])
    queue = ReviewService(
        store, ingest_service(store, redis_client, hasher), redis_client, fraud_action="suspend"
    )
    reviews.queue_decision(store, decision("joe", 80))
    reviews.queue_decision(store, decision("kid", 20, "dec_kid"))
    items = {i["subject_id"]: i["id"] for i in open_items(queue)}
    queue.resolve(items["joe"], ALICE, "fraud")  # resolving an open item claims it implicitly
    queue.resolve(items["kid"], ALICE, "underage")
    assert [e["action"] for e in store.enforcement_history("joe")] == ["suspend"]
    assert [e["action"] for e in store.enforcement_history("kid")] == ["age_gate"]


def test_review_labels_seed_trust_propagation(
    store: GraphStore, redis_client: redis.Redis, hasher: Pseudonymiser
) -> None:
    # Suspend, not ban, on `fraud`: the distrust must come from the label itself.
    queue = ReviewService(
        store, ingest_service(store, redis_client, hasher), redis_client, fraud_action="suspend"
    )
    people = ["joe", "pal", "kim", "kimpal"]
    raw = [*farm()]
    for i, a in enumerate(people):
        raw.append(signup(f"s-{a}", a, device_id=f"dev-{a}", ip=f"192.0.2.{i + 1}"))
    raw.append(event("relation", "r1", "joe", other_account_id="pal", kind="friend"))
    raw.append(event("relation", "r2", "kim", other_account_id="kimpal", kind="friend"))
    ingest(store, hasher, "b1", raw)
    DetectionService(store, seed=3).run_full()
    before = {a: results.account_view(store, a)["sybil_score"] for a in people}
    assert all(v is None or v == pytest.approx(0.5) for v in before.values()), before

    reviews.queue_decision(store, decision("joe", 80))
    reviews.queue_decision(store, decision("kim", 40, "dec_kim"))
    items = {i["subject_id"]: i["id"] for i in open_items(queue)}
    queue.resolve(items["joe"], ALICE, "fraud")
    queue.resolve(items["kim"], ALICE, "legit")
    assert [e["action"] for e in store.enforcement_history("joe")] == ["suspend"]
    DetectionService(store, seed=3).run_full()
    after = {a: results.account_view(store, a)["sybil_score"] for a in people}
    assert after["joe"] > 0.5 and after["pal"] > 0.5, after
    assert after["kim"] < 0.5 and after["kimpal"] < 0.5, after


def test_legit_ring_stays_benign_until_its_evidence_grows(
    store: GraphStore, queue: ReviewService, hasher: Pseudonymiser
) -> None:
    ingest(store, hasher, "b1", crew())
    detect(store)
    ring_id = ring_of(store, "crew0")
    ring = store.ring(ring_id)
    assert ring is not None and ring["verdict"] == "suspicious"
    # Detection queued the suspicious ring.
    (item,) = open_items(queue)
    assert (item["kind"], item["subject_type"], item["subject_id"]) == ("ring", "ring", ring_id)
    assert 40 <= item["priority"] <= 100

    queue.claim(item["id"], ALICE)
    done = queue.resolve(item["id"], ALICE, "legit", "a family sharing a phone plan")
    assert done["effects"]["action"] == "clear" and done["effects"]["accounts"] == CREW
    assert done["effects"]["suppressed"]["identifiers"] == 1
    ring = store.ring(ring_id)
    assert ring is not None and ring["verdict"] == "benign"
    assert {m["status"] for m in ring["members"]} == {"clear"}
    seq = len(store.changes_page(0, 10_000))
    ring_told = [c["kind"] for c in store.changes_page(0, 10_000) if c["subject_id"] == ring_id]
    assert ring_told == ["created", "actioned", "cleared"]
    assert "ring.suppressed" in [e["action"] for e in audit.of_subject(store, "ring", ring_id)]

    # Same evidence: the next runs keep it benign, tell nobody, queue nothing.
    service = DetectionService(store, seed=3)
    service.run_full()
    ring = store.ring(ring_id)
    assert ring is not None and ring["verdict"] == "benign"
    assert ring_of(store, "crew0") == ring_id
    assert store.changes_page(seq, 1000) == []
    assert open_items(queue) == []
    assert all(not (results.account_view(store, a)["risk"] or 0) >= 0.4 for a in CREW)

    # The evidence grows: two members now also share a second phone, which the review did not
    # see. The suppression lapses, the ring is flagged again and goes back to the queue.
    ingest(
        store,
        hasher,
        "b2",
        [
            event("profile_update", f"p-{a}", a, ts="2026-04-02T10:00:00Z", phone="+14155550888")
            for a in CREW[:2]
        ],
    )
    service.run_full()
    assert ring_of(store, "crew0") == ring_id
    ring = store.ring(ring_id)
    assert ring is not None and ring["verdict"] == "suspicious"
    assert [c["kind"] for c in store.changes_page(seq, 1000) if c["subject_id"] == ring_id] == [
        "escalated"
    ]
    (again,) = open_items(queue)
    assert again["subject_id"] == ring_id and again["id"] != item["id"]
