"""The store contract, run on both engines (the `store` fixture is parametrised)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from ringwatch.detectors.snapshot import NOT_BANNED, SnapshotBuilder
from ringwatch.events import parse_event
from ringwatch.graph.rows import build_statements
from ringwatch.graph.store import Batch, GraphStore
from ringwatch.identity import IdentifierKind, Pseudonymiser
from ringwatch.records import Record, normalise
from tests.events import event, signup

pytestmark = pytest.mark.embedded


def records(hasher: Pseudonymiser, raw: list[dict]) -> list[Record]:
    return [normalise(parse_event(e), hasher) for e in raw]


@pytest.fixture
def world(hasher: Pseudonymiser) -> list[Record]:
    return records(
        hasher,
        [
            signup(
                "e1",
                "alice",
                ip="203.0.113.7",
                device_id="tab-1",
                email="Alice.B+x@gmail.com",
                phone="+14155550101",
                display_name="Alice Brown",
                birthdate="1990-04-01",
                country="US",
            ),
            signup(
                "e2",
                "bob",
                ts="2026-03-01T11:00:00Z",
                ip="203.0.113.8",
                device_id="tab-1",
                email="bob@example.org",
                invited_by="alice",
            ),
            event("login", "e3", "alice", ip="203.0.113.7", device_id="tab-1"),
            event(
                "login",
                "e4",
                "alice",
                ts="2026-02-20T10:00:00Z",
                ip="203.0.113.7",
                device_id="tab-1",
            ),
            event("payment", "e5", "bob", card="4111-1", amount=9.5, currency="USD"),
            event("engage", "e6", "bob", target_id="video-9", action="like"),
            event("relation", "e7", "bob", other_account_id="carol", kind="follow"),
            event(
                "enforcement", "e8", "bob", ts="2026-03-05T00:00:00Z", action="ban", reason="spam"
            ),
            event("enforcement", "e9", "bob", ts="2026-03-04T00:00:00Z", action="restrict"),
        ],
    )


def test_batch_applies_once(store: GraphStore, world: list[Record]) -> None:
    first = store.apply_batch(Batch("b-1", world))
    again = store.apply_batch(Batch("b-1", world))
    assert first.applied and not again.applied
    assert store.batch_applied("b-1")
    assert not store.batch_applied("b-2")
    s = store.summary()
    assert s.nodes["Account"] == 3  # alice, bob and carol (followed before she signed up)
    assert s.nodes["Device"] == 1
    assert s.nodes["Subnet"] == 1 and s.nodes["IP"] == 2
    # alice used the tablet in 3 events, bob in 1: counts add up, they are not overwritten.
    assert s.edge_events["USES_DEVICE"] == 4
    assert s.edges["USES_DEVICE"] == 2
    assert s.top_shared["device"][0][1] == 2
    assert s.top_shared["subnet"] == [("203.0.113.0/24", 2)]
    assert s.edges["INVITED"] == 1 and s.edges["FOLLOWS"] == 1
    assert s.nodes["Enforcement"] == 2


def test_a_resent_attempt_is_not_applied_twice(store: GraphStore, world: list[Record]) -> None:
    """A driver or client that resends an attempt whose commit was never acknowledged (the
    server restarted mid-commit) sends the SAME claim again; it must find the marker of the
    attempt that committed and apply nothing (the double-apply seen once in CI)."""
    claim = {"batch": "b-resent", "now": 1_700_000_000_000, "events": len(world)}
    statements = build_statements(world)
    assert store._apply_statements(dict(claim), statements)
    assert not store._apply_statements(dict(claim), statements)
    s = store.summary()
    assert s.edge_events["USES_DEVICE"] == 4
    assert s.nodes["Enforcement"] == 2


def test_counts_are_exact_across_batches(store: GraphStore, hasher: Pseudonymiser) -> None:
    raw = [
        event("login", f"l{i}", f"acc{i % 7}", ip=f"198.51.100.{i % 3}", device_id=f"d{i % 5}")
        for i in range(300)
    ]
    recs = records(hasher, raw)
    for start in range(0, 300, 70):
        store.apply_batch(Batch(f"b{start}", recs[start : start + 70]))
    store.apply_batch(Batch("b70", recs[70:140]))  # a redelivered batch
    s = store.summary()
    assert s.edge_events["USES_DEVICE"] == 300
    assert s.edge_events["USES_IP"] == 300
    assert s.edges["USES_DEVICE"] == len({(i % 7, i % 5) for i in range(300)})


def test_snapshot_matches_records(store: GraphStore, world: list[Record]) -> None:
    store.apply_batch(Batch("b-1", world[:4]))
    store.apply_batch(Batch("b-2", world[4:]))
    from_store = SnapshotBuilder()
    store.stream_snapshot(from_store, page_size=2)  # pages smaller than the graph
    got = from_store.build()
    direct = SnapshotBuilder()
    direct.add_records(world)
    want = direct.build()
    assert list(got.accounts) == ["alice", "bob", "carol"]
    assert list(got.identifiers) == list(want.identifiers)
    assert (got.links != want.links).nnz == 0
    assert (got.link_first_seen != want.link_first_seen).nnz == 0
    assert np.array_equal(got.created_at, want.created_at)
    # bob's ban (Mar 5) is newer than the restriction (Mar 4) that arrived after it.
    assert got.banned_at[1] == want.banned_at[1] != NOT_BANNED
    assert got.banned_at[0] == NOT_BANNED
    assert got.country[0] == "US" and got.birthdate[0] == "1990-04-01"
    assert np.array_equal(got.name_sketch, want.name_sketch) and got.name_sketch[0].any()
    assert got.relations.tolist() == want.relations.tolist()
    assert got.relations.tolist() == sorted(
        [[0, 1, 2], [1, 2, 1]]
    )  # alice invited bob; bob follows carol
    assert got.engagements.tolist() == want.engagements.tolist()


def test_out_of_order_batches_converge(store: GraphStore, hasher: Pseudonymiser) -> None:
    raw = [
        event("login", f"e{i}", "acc", ts=f"2026-01-{1 + i:02d}T00:00:00Z", ip="192.0.2.1")
        for i in range(20)
    ]
    recs = records(hasher, raw)
    shuffled = recs[:]
    random.Random(3).shuffle(shuffled)
    for i in range(0, 20, 4):
        store.apply_batch(Batch(f"b{i}", shuffled[i : i + 4]))
    builder = SnapshotBuilder()
    store.stream_snapshot(builder)
    snap = builder.build()
    ip_col = int(np.flatnonzero(snap.kind_mask(IdentifierKind.IP))[0])
    assert snap.links[0, ip_col] == 20
    assert snap.link_first_seen[0, ip_col] == recs[0]["ts"] // 1000
    assert snap.created_at[0] == recs[0]["ts"] // 1000


def test_raw_identifiers_never_reach_the_graph(store: GraphStore, world: list[Record]) -> None:
    store.apply_batch(Batch("b-1", world))
    dump = store.read("MATCH (n) RETURN properties(n) AS p")
    text = repr(dump).lower()
    for secret in (
        "alice.b",
        "alicebx",
        "4155550101",
        "203.0.113.7",
        "tab-1",
        "4111",
        "alice brown",
    ):
        assert secret not in text


def test_read_is_read_only(store: GraphStore) -> None:
    from ringwatch.errors import RingwatchError

    with pytest.raises((RingwatchError, Exception)):
        store.read("CREATE (:Account {id: 'x'})")
    assert store.summary().nodes["Account"] == 0


def test_schema_is_idempotent(store: GraphStore) -> None:
    store.ensure_schema()
    store.ensure_schema()
    store.ping()
