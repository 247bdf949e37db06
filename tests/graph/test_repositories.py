"""The audit, review-queue and change-log repositories, run on both engines (`store` fixture)."""

from __future__ import annotations

from typing import Any

import pytest

from ringwatch.graph.audit_log import append_statement
from ringwatch.graph.change_log import record_statement
from ringwatch.graph.review_queue import (
    advance_sync_statement,
    claim_statement,
    suppress_ring_statement,
    upsert_statement,
)
from ringwatch.graph.store import GraphStore

pytestmark = pytest.mark.embedded


def audit_row(entry_id: str, subject: str, action: str = "test.step") -> dict[str, Any]:
    return {
        "id": entry_id,
        "actor": "system",
        "action": action,
        "subject_type": "account",
        "subject_id": subject,
        "reason": "",
        "before": "null",
        "after": "null",
    }


def review_row(subject: str, review_id: str, priority: float, audit_id: str) -> dict[str, Any]:
    return {
        "key": f"account:{subject}",
        "id": review_id,
        "kind": "decision",
        "subject_type": "account",
        "subject_id": subject,
        "priority": priority,
        "source": "{}",
        "audit_id": audit_id,
        "actor": "system",
        "reason": "test",
        "after": "null",
    }


def raw_write(store: GraphStore, query: str) -> None:
    writer: Any = store  # write() is on both engines' CypherStore, not on the protocol
    writer.write(query)


def test_audit_pages_in_time_order_and_gets_by_id(store: GraphStore) -> None:
    for n, now in enumerate((1000, 1000, 2000)):
        batch = [audit_row(f"aud_{n}a", "acc1"), audit_row(f"aud_{n}b", "acc2")]
        assert store.apply_statements(f"b{n}", [append_statement(batch, now)], now=now)
    everything = store.audit.page(-1, "", 100)
    assert [(r["at"], r["id"]) for r in everything] == sorted(
        (r["at"], r["id"]) for r in everything
    )
    assert len(everything) == 6
    first = store.audit.page(-1, "", 2, ("account", "acc1"))
    assert [r["id"] for r in first] == ["aud_0a", "aud_1a"]
    rest = store.audit.page(first[-1]["at"], first[-1]["id"], 2, ("account", "acc1"))
    assert [(r["id"], r["at"]) for r in rest] == [("aud_2a", 2000)]
    got = store.audit.get("aud_1b")
    assert got is not None and got["subject_id"] == "acc2" and got["at"] == 1000
    assert store.audit.get("aud_missing") is None


def test_review_upsert_escalates_the_open_item(store: GraphStore) -> None:
    store.reviews.upsert([review_row("acc1", "rev_1", 40.0, "aud_r1")], 1000)
    # A second decision for the same subject raises the open item, not a new one.
    store.reviews.upsert([review_row("acc1", "rev_2", 70.0, "aud_r2")], 2000)
    now = 3000
    assert store.apply_statements(
        "b-upsert", [upsert_statement([review_row("acc2", "rev_3", 55.0, "aud_r3")], now)], now=now
    )
    item = store.reviews.get("rev_1")
    assert item is not None and item["priority"] == 70.0 and item["sources"] == 2
    assert store.reviews.get("rev_2") is None
    by_priority = store.reviews.page_by_priority("open", now, 10, 1e18, "")
    assert [r["id"] for r in by_priority] == ["rev_1", "rev_3"]
    after_first = store.reviews.page_by_priority("open", now, 10, 70.0, "rev_1")
    assert [r["id"] for r in after_first] == ["rev_3"]
    by_created = store.reviews.page_by_created("open", now, 10, -1, "")
    assert [r["id"] for r in by_created] == ["rev_1", "rev_3"]
    audit = store.audit.page(-1, "", 10, ("account", "acc1"))
    assert [r["action"] for r in audit] == ["review.created", "review.escalated"]


def test_a_claim_applies_to_the_version_read(store: GraphStore) -> None:
    store.reviews.upsert([review_row("acc1", "rev_1", 40.0, "aud_r1")], 1000)
    claim = {
        "id": "rev_1",
        "version": 0,
        "claimant": "k_alice",
        "claimant_name": "alice",
        "token": "t1",
        "expires": 10_000,
        "audit_id": "aud_c1",
        "actor": "k_alice/alice",
        "reason": "claim",
        "before": "null",
        "after": "null",
    }
    assert store.apply_statements("b-claim-1", [claim_statement(claim, 2000)], now=2000)
    stale = {**claim, "claimant": "k_bob", "token": "t2", "audit_id": "aud_c2"}
    store.apply_statements("b-claim-2", [claim_statement(stale, 2500)], now=2500)
    item = store.reviews.get("rev_1")
    assert item is not None
    assert (item["status"], item["claim_token"], item["version"]) == ("claimed", "t1", 1)
    assert [r["id"] for r in store.reviews.page_by_priority("claimed", 3000, 10, 1e18, "")] == [
        "rev_1"
    ]
    # Past its expiry the claim counts as open.
    assert [r["id"] for r in store.reviews.page_by_priority("open", 20_000, 10, 1e18, "")] == [
        "rev_1"
    ]


def test_sync_cursor_suppressions_and_account_states(store: GraphStore) -> None:
    assert store.reviews.sync_cursor() == 0
    assert store.apply_statements("b-sync", [advance_sync_statement(17, 1000)], now=1000)
    assert store.reviews.sync_cursor() == 17
    raw_write(store, "CREATE (:Ring {id: 'r1', verdict: 'suspicious'}), (:Ring {id: 'r2'})")
    raw_write(store, "CREATE (:Account {id: 'a1', status: 'banned', banned_at: 5})")
    raw_write(store, "CREATE (:Account {id: 'a2', status: 'active'})")
    suppress = {"ring": "r1", "identifiers": '["device:d1"]', "fingerprint": "f1", "review": "v1"}
    assert store.apply_statements("b-sup", [suppress_ring_statement(suppress, 2000)], now=2000)
    rows = store.reviews.suppressions(["r1", "r2", "r3"])
    assert rows == [
        {"id": "r1", "identifiers": '["device:d1"]', "review": "v1", "fingerprint": "f1"}
    ]
    states = store.reviews.account_states(["a2", "a1", "nobody", "a1"])
    assert sorted(states) == ["a1", "a2"]
    assert (states["a1"]["status"], states["a1"]["banned_at"]) == ("banned", 5)
    assert store.reviews.account_states([]) == {}


def test_last_change_seq_follows_the_log(store: GraphStore) -> None:
    assert store.last_change_seq() == 0
    changes = [
        {"kind": "actioned", "subject": "account", "id": f"a{i}", "detail": "{}"} for i in range(3)
    ]
    assert store.apply_statements("b-ch1", [record_statement(changes, "op1", 1000)], now=1000)
    assert store.last_change_seq() == 3
    assert store.apply_statements("b-ch2", [record_statement(changes[:1], "op2", 2000)], now=2000)
    assert store.last_change_seq() == 4
    assert [c["seq"] for c in store.changes_page(0, 10)] == [1, 2, 3, 4]
    assert store.changes_page(3, 10)[0]["run"] == "op2"
