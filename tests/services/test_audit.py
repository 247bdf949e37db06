"""The audit log on both engines: entries commit with the change they describe or not at all,
once per batch, paged in time order; and no query in the code base can alter one."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import pytest

from ringwatch.errors import Invalid
from ringwatch.graph.audit_log import append_statement
from ringwatch.graph.rows import Statement
from ringwatch.graph.store import GraphStore
from ringwatch.services import audit
from ringwatch.services.audit import SYSTEM, Actor, entry, now_ms

pytestmark = pytest.mark.embedded

ALICE = Actor("k_alice", "alice")


def _entries(n: int, subject: str = "acc1") -> list[dict[str, object]]:
    return [
        entry(
            ALICE if i % 2 else SYSTEM,
            f"test.step{i}",
            "account",
            subject,
            reason=f"because {i}",
            before={"n": i},
            after={"n": i + 1},
        )
        for i in range(n)
    ]


def test_entries_commit_with_their_batch_once(store: GraphStore) -> None:
    now = now_ms()
    rows = _entries(2)
    assert store.apply_statements("b-audit", [append_statement(rows, now)], now=now)
    # The same batch again (a retry) writes nothing.
    assert not store.apply_statements("b-audit", [append_statement(rows, now)], now=now)
    got = audit.of_subject(store, "account", "acc1")
    assert [e["action"] for e in got] == ["test.step0", "test.step1"]
    assert got[0]["actor"] == "system" and got[1]["actor"] == "k_alice/alice"
    assert got[1]["before"] == {"n": 1} and got[1]["after"] == {"n": 2}
    assert got[1]["reason"] == "because 1" and got[1]["at"] == now


def test_a_failed_batch_leaves_no_entry(store: GraphStore) -> None:
    now = now_ms()
    boom = Statement(
        "UNWIND $rows AS r MATCH (a:Account {id: r.a}) SET a.x = 1 / r.zero",
        [{"a": "nobody", "zero": 0}],
    )
    raw: Any = store  # write() is on both engines' CypherStore, not on the protocol
    raw.write("CREATE (:Account {id: 'nobody'})")
    with pytest.raises(Exception):  # noqa: B017 - each engine raises its own error
        store.apply_statements(
            "b-fails", [append_statement(_entries(1, "nobody"), now), boom], now=now
        )
    assert audit.of_subject(store, "account", "nobody") == []


def test_paging_in_time_order_per_subject(store: GraphStore) -> None:
    for i in range(5):
        audit.record(store, _entries(1, "acc1") + _entries(1, "acc2"), batch_id=f"b{i}")
    pages, cursor = [], ""
    while True:
        page = audit.page(store, "account:acc1", cursor, 2)
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if not page["more"]:
            break
    got = [e for p in pages for e in p]
    assert len(got) == 5 and all(e["subject_id"] == "acc1" for e in got)
    keys = [(e["at"], e["id"]) for e in got]
    assert keys == sorted(keys)
    assert len(audit.page(store, None, "", 100)["items"]) == 10
    # Nothing after the last entry, and the cursor stays put.
    assert audit.page(store, "account:acc1", cursor, 2)["items"] == []
    for bad in ("acc1", "planet:mars", "ring:"):
        with pytest.raises(Invalid):
            audit.page(store, bad)
    with pytest.raises(Invalid):
        audit.page(store, None, "not-a-cursor")


def test_no_query_can_change_an_audit_entry() -> None:
    """Audit nodes are only ever CREATEd: any query that binds one to a name must be read-only."""
    root = resources.files("ringwatch.cypher")
    writes = re.compile(r"\b(SET|DELETE|REMOVE|MERGE|CREATE|DETACH)\b", re.IGNORECASE)
    checked = 0
    for folder in root.iterdir():
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if not path.name.endswith(".cypher"):
                continue
            text = re.sub(r"//.*", "", path.read_text())
            if re.search(r"MERGE\s*\(\s*\w*\s*:\s*Audit", text):
                pytest.fail(f"{folder.name}/{path.name} MERGEs an Audit node")
            if re.search(r"\(\s*\w+\s*:\s*Audit\b", text):
                checked += 1
                assert not writes.search(text), f"{folder.name}/{path.name} writes next to Audit"
    assert checked >= 3
