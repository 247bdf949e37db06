"""The store contract, run on both engines (the `store` fixture is parametrised)."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ringwatch.detectors._common import identifier_degree
from ringwatch.detectors.snapshot import NOT_BANNED, SnapshotBuilder
from ringwatch.events import parse_event
from ringwatch.graph.queries import cypher
from ringwatch.graph.rows import PROFILE_FIELDS, Statement, build_statements
from ringwatch.graph.store import (
    Batch,
    CypherStore,
    DetectionWrite,
    GraphStore,
    LiveFacts,
    Row,
)
from ringwatch.identity import IdentifierKind, Pseudonymiser
from ringwatch.records import Record, normalise
from tests.events import event, signup
from tests.graphdump import dump
from tests.snapshots import assert_same_snapshot

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


def _generated(tmp_path: Path, hasher: Pseudonymiser) -> list[Record]:
    from ringwatch.services.ingest import validate_events
    from ringwatch.worlds import generate

    generate(tmp_path, 120, 4, "heavy-fraud")
    lines = (tmp_path / "events.jsonl").read_bytes().splitlines()
    recs, problems = validate_events(enumerate(lines), hasher)
    assert not problems and len(recs) > 500
    return recs


def _without_markers(store: GraphStore) -> tuple[list[Any], list[Any]]:
    nodes, edges = dump(store)
    return [n for n in nodes if n[0] != "Batch"], edges


def _as_full_statement(statements: list[Statement]) -> list[Statement]:
    """Every account row through `upsert_accounts`, as before the split: the user-agent-only
    and counts-only rows padded with the fields they do not carry."""
    full = cypher("write/upsert_accounts")
    lean = {cypher("write/upsert_accounts_ua"), cypher("write/upsert_accounts_lean")}
    blank = {"created": None} | {k: None for f in PROFILE_FIELDS for k in (f, f"{f}_ts")}
    return [
        Statement(full, [blank | r for r in s.rows]) if s.query in lean else s for s in statements
    ]


def _small_batches(recs: list[Record]) -> list[list[Record]]:
    parts, start, size = [], 0, 1
    while start < len(recs):
        parts.append(recs[start : start + size])
        start, size = start + size, size % 7 + 1
    return parts


def test_account_rows_of_every_shape_build_the_graph_of_one_batch(
    store: GraphStore, hasher: Pseudonymiser, tmp_path: Path
) -> None:
    """Accounts go through three statements by what their rows carry (full, user agent only,
    counts only). A world in one batch (mostly full rows, all created) is the reference; the
    same records in small batches of varying size, in file order and in reverse (an account's
    logins and payments then create it, its signup comes last), give the same graph node by
    node and edge by edge, and so does every row sent through the full statement alone."""
    recs = _generated(tmp_path, hasher)
    store.apply_batch(Batch("all", recs))
    whole = _without_markers(store)
    parts = _small_batches(recs)
    shapes = {
        s.query
        for part in parts
        for s in build_statements(part)
        if "(a:Account {id: r.id})" in s.query
    }
    assert len(shapes) == 3  # full, user agent only and counts only rows all went in
    for order, through_full in ((1, False), (-1, False), (1, True)):
        store.clear()
        store.ensure_schema()
        for i, part in enumerate(parts[::order]):
            statements = build_statements(part)
            if through_full:
                statements = _as_full_statement(statements)
            assert store.apply_statements(f"b{i}", statements, events=len(part))
        assert _without_markers(store) == whole, (order, through_full)


def test_user_agent_ties_go_to_the_greater_value_in_any_order(
    store: GraphStore, hasher: Pseudonymiser
) -> None:
    """Two logins at the same millisecond with different agents (user-agent-only rows, the
    first of which creates the account): the greater value wins whichever commits first."""
    same_ms = "2026-03-01T00:00:00Z"
    agents = ("Mozilla/5.0 (X11)", "Mozilla/5.0 (Macintosh)")
    for account, order in (("u1", agents), ("u2", agents[::-1])):
        for i, agent in enumerate(order):
            login = event("login", f"{account}-{i}", account, ts=same_ms, user_agent=agent)
            (rec,) = records(hasher, [login])
            store.apply_batch(Batch(f"{account}-{i}", [rec]))
    rows = store.read(
        "MATCH (a:Account) WHERE a.id IN ['u1', 'u2'] RETURN a.id AS id, a.ua AS ua, a.events AS n"
    )
    got = {r["id"]: (r["ua"], r["n"]) for r in rows}
    expected = max(
        r["profile"]["ua"]
        for r in records(
            hasher, [event("login", "x", "u", ts=same_ms, user_agent=agent) for agent in agents]
        )
    )
    assert got == {"u1": (expected, 2), "u2": (expected, 2)}


def test_a_signup_without_profile_fields_sets_created_at(
    store: GraphStore, hasher: Pseudonymiser
) -> None:
    """A signup row may carry no profile field at all (no country, no agent): it still needs the
    statement that sets `created_at`, whether it creates the account or finds the one that an
    earlier payment made."""
    raw = [
        event("payment", "p", "known", ts="2026-03-01T00:00:00Z", card="4111-1", amount=5),
        signup("s-known", "known", ts="2026-03-02T00:00:00Z"),
        signup("s-fresh", "fresh", ts="2026-03-03T00:00:00Z"),
    ]
    recs = records(hasher, raw)
    assert not any(r.get("profile") for r in recs)
    for rec in recs:
        store.apply_batch(Batch(rec["id"], [rec]))
    for account, rec in (("known", recs[1]), ("fresh", recs[2])):
        row = store.account(account)
        assert row is not None
        assert row["created_at"] == rec["ts"]


def test_batches_written_as_one_are_each_applied_once(
    store: GraphStore, hasher: Pseudonymiser, tmp_path: Path
) -> None:
    """`apply_batches` writes consecutive batches in one unit with each batch's own marker:
    the graph (markers and their event counts included) is the one of applying them one by
    one; a group applied again writes nothing; a group holding a batch applied before applies
    the others alone and skips that one."""
    recs = _generated(tmp_path, hasher)
    batches = [Batch(f"b{i}", recs[i : i + 60]) for i in range(0, len(recs), 60)]
    for batch in batches:
        store.apply_batch(batch)
    one_by_one = dump(store)
    store.clear()
    store.ensure_schema()
    results = []
    for i in range(0, len(batches) - 2, 3):
        results += store.apply_batches(batches[i : i + 3])
    done = len(results)
    assert [r.applied for r in results] == [True] * done
    assert [r.batch_id for r in results] == [b.id for b in batches[:done]]
    assert results[0].accounts == tuple(sorted({r["a"] for r in batches[0].records}))
    again = store.apply_batches(batches[:3])
    assert [r.applied for r in again] == [False] * 3
    mixed = store.apply_batches(batches[done - 1 :])  # its first batch was applied above
    assert [r.applied for r in mixed] == [False] + [True] * (len(batches) - done)
    assert dump(store) == one_by_one
    assert all(store.batch_applied(b.id) for b in batches)


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


@pytest.mark.parametrize("page_size", [1, 3, None])
def test_bulk_export_matches_per_account_reads(
    store: GraphStore, hasher: Pseudonymiser, page_size: int | None
) -> None:
    """The bulk export and the per-account pages an incremental run reads give the same
    snapshot, whatever the page size, including ids holding the characters an engine's list
    text uses (', ', brackets) and accounts with no edges at all."""
    odd = ["a, b", "[c]", "d,e", "plain"]
    raw = [
        signup(f"s{i}", acc, ip=f"198.51.100.{i}", device_id="shared", country="US")
        for i, acc in enumerate(odd)
    ]
    raw += [
        event("login", "l1", "a, b", ip="198.51.100.9", device_id="shared"),
        event("engage", "g1", "[c]", target_id="x, y", action="like"),
        event("engage", "g2", "[c]", target_id="x, y", action="share"),
        signup("s9", "lonely"),
    ]
    store.apply_batch(Batch("b-odd", records(hasher, raw)))
    bulk = SnapshotBuilder()
    store.stream_snapshot(bulk, page_size=page_size)
    got = bulk.build()
    ids = [str(a) for a in got.accounts]
    per_account = SnapshotBuilder()
    store.snapshot_of(per_account, ids, page_size=2)
    assert sorted(ids) == sorted([*odd, "lonely"])
    scoped = per_account.build()
    # A scope also carries each identifier's accounts in the whole store: here, all of them.
    assert scoped.identifier_accounts is not None
    assert scoped.identifier_accounts.tolist() == identifier_degree(got).tolist()
    assert_same_snapshot(got, dataclasses.replace(scoped, identifier_accounts=None))
    assert got.links.nnz > 0 and len(got.engagements) == 2


def test_a_scope_reads_its_accounts_edges_and_every_banned_profile(
    store: GraphStore, hasher: Pseudonymiser
) -> None:
    """An incremental run's scope: its accounts with all their edges; an account it relates
    to outside the scope as a row with nothing known; with `banned_profiles`, every banned
    account outside it as a profile with no edges. A banned account in scope keeps its own
    status (here a later verify), as the full export reads it."""
    raw = [
        signup("s1", "alice", ip="198.51.100.1", device_id="d-a", country="US"),
        signup("s2", "bob", ip="198.51.100.2", device_id="d-b", country="FR"),
        signup("s3", "carol", ip="198.51.100.3", device_id="d-a"),
        signup("s4", "dave", ip="198.51.100.4", device_id="d-d", country="DE"),
        signup("s5", "erin", ip="198.51.100.5", device_id="d-e"),
        signup("s6", "fay", ip="198.51.100.6", device_id="d-f"),
        event("relation", "r1", "alice", other_account_id="bob", kind="follow"),
        event("relation", "r2", "alice", other_account_id="carol", kind="invite"),
        event("engage", "g1", "alice", target_id="post-1", action="like"),
        event("enforcement", "x1", "bob", ts="2026-03-05T00:00:00Z", action="ban"),
        event("enforcement", "x2", "dave", ts="2026-03-05T00:00:00Z", action="ban"),
        event("enforcement", "x3", "fay", ts="2026-03-05T00:00:00Z", action="ban"),
        event("enforcement", "x4", "fay", ts="2026-03-06T00:00:00Z", action="verify"),
    ]
    store.apply_batch(Batch("b-scope", records(hasher, raw)))
    whole = SnapshotBuilder()
    store.stream_snapshot(whole)
    full = whole.build()
    row = full.account_index()

    bare = SnapshotBuilder()
    store.snapshot_of(bare, ["alice", "fay"])
    got = bare.build()
    assert list(got.accounts) == ["alice", "bob", "carol", "fay"]
    assert got.relations.tolist() == [[0, 1, 1], [0, 2, 2]]  # follows bob, invited carol
    # Outside the scope, bob and carol are known only as the ends of alice's relations.
    assert got.links[1].nnz == got.links[2].nnz == 0
    assert got.banned_at[1] == NOT_BANNED and got.country[1] == ""
    alice = full.links[row["alice"]]
    assert sorted(got.identifiers[got.links[0].indices]) == sorted(full.identifiers[alice.indices])
    assert len(got.engagements) == 1 and list(got.engage_targets) == ["post-1"]
    # Each identifier keeps its accounts in the whole store: device d-a has alice and carol,
    # though only alice is in this scope.
    assert got.identifier_accounts is not None
    scope_cols = np.union1d(alice.indices, full.links[row["fay"]].indices)
    assert sorted(got.identifier_accounts.tolist()) == sorted(
        identifier_degree(full)[scope_cols].tolist()
    )
    in_scope = np.diff(got.links_by_identifier.indptr)
    assert (identifier_degree(got) > in_scope).any()
    assert got.verified.tolist() == [False, False, False, True]
    assert got.banned_at[3] == full.banned_at[row["fay"]] != NOT_BANNED

    with_banned = SnapshotBuilder()
    store.snapshot_of(with_banned, ["alice", "fay"], banned_profiles=True)
    got = with_banned.build()
    assert list(got.accounts) == ["alice", "bob", "carol", "dave", "fay"]
    for name in ("bob", "dave"):
        i = list(got.accounts).index(name)
        assert got.banned_at[i] == full.banned_at[row[name]] != NOT_BANNED
        assert got.country[i] == full.country[row[name]] != ""
        assert got.created_at[i] == full.created_at[row[name]]
        assert got.links[i].nnz == 0
    assert got.verified.tolist() == [False, False, False, False, True]


def _export_world(store: GraphStore, hasher: Pseudonymiser) -> None:
    raw = [
        signup(f"s{i}", f"acc{i}", ip=f"198.51.100.{i % 5}", device_id=f"d{i % 3}", country="US")
        for i in range(12)
    ]
    raw += [
        event("relation", f"f{i}", f"acc{i}", other_account_id=f"acc{(i + 1) % 12}", kind="follow")
        for i in range(12)
    ]
    raw += [
        event("engage", f"g{i}", f"acc{i}", target_id=f"t{i % 4}", action="like") for i in range(12)
    ]
    store.apply_batch(Batch("b-export", records(hasher, raw)))


@pytest.mark.timeout(120)
def test_prefetched_export_equals_the_sequential_one(
    store: GraphStore, hasher: Pseudonymiser
) -> None:
    """Pages fetched ahead on worker threads are consumed in plan order: the same columns,
    bit for bit, as one page at a time, however many pages are in flight."""
    from ringwatch.graph.export import export_snapshot

    _export_world(store, hasher)
    assert isinstance(store, CypherStore)
    sequential = export_snapshot(store, 3, prefetch=0)
    for depth in (1, 4):
        ahead = export_snapshot(store, 3, prefetch=depth)
        for name in sequential.__dataclass_fields__:
            x, y = getattr(ahead, name), getattr(sequential, name)
            if x is None or y is None:
                assert x is y, name
            else:
                assert x.dtype == y.dtype and np.array_equal(x, y), name
    assert_same_snapshot(export_snapshot(store, 3, prefetch=4).freeze(), sequential.freeze())
    assert len(sequential.accounts) == 12 and len(sequential.engage_target) == 12


@pytest.mark.timeout(120)
@pytest.mark.parametrize("by_label", [False, True])
@pytest.mark.parametrize("links_in_one", [False, True])
def test_every_export_shape_gives_the_same_columns(
    store: GraphStore,
    hasher: Pseudonymiser,
    monkeypatch: pytest.MonkeyPatch,
    by_label: bool,
    links_in_one: bool,
) -> None:
    """The export's engine-specific shapes (ranges over each label's own ids; every link type
    of a range in one query) give the plain shape's columns bit for bit, in the same order,
    on either engine, empty store included."""
    from ringwatch.graph.export import export_snapshot

    assert isinstance(store, CypherStore)

    def export(by_label: bool, links_in_one: bool) -> dict[str, Any]:
        monkeypatch.setattr(store, "export_by_label", by_label)
        monkeypatch.setattr(store, "export_links_in_one", links_in_one)
        got = export_snapshot(store, 3, prefetch=2)
        return {name: getattr(got, name) for name in got.__dataclass_fields__}

    assert len(export(by_label, links_in_one)["accounts"]) == 0
    raw = [
        signup(
            f"s{i}",
            f"acc{i}",
            ip=f"198.51.100.{i % 5}",
            device_id=f"d{i % 3}",
            email=f"user{i % 4}@example{i % 2}.org",
            phone=f"+1415555{i % 6:04d}",
            country="US",
        )
        for i in range(14)
    ]
    raw += [event("login", f"l{i}", f"acc{i}", ip="203.0.113.9", device_id="d9") for i in (2, 7)]
    raw += [
        event("relation", f"f{i}", f"acc{i}", other_account_id=f"acc{(i + 3) % 14}", kind="friend")
        for i in range(0, 14, 2)
    ]
    raw += [
        event("engage", f"g{i}", f"acc{i}", target_id=f"t{i % 3}", action="like") for i in range(9)
    ]
    store.apply_batch(Batch("b-shapes", records(hasher, raw)))
    plain = export(False, False)
    got = export(by_label, links_in_one)
    for name, want in plain.items():
        if want is None or got[name] is None:
            assert got[name] is want, name
        else:
            assert got[name].dtype == want.dtype and np.array_equal(got[name], want), name
    kinds = set(plain["identifier_kind"].tolist())
    assert len(plain["accounts"]) == 14 and len(kinds) >= 5 and len(plain["engage_target"]) == 9


@pytest.mark.timeout(120)
def test_a_failed_prefetched_page_raises_the_stores_error(
    store: GraphStore, hasher: Pseudonymiser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page that fails on a worker thread (here: the engine rejects the query) raises the
    same error the store raises for that query on the caller's thread, and no worker thread
    is left behind."""
    from ringwatch.graph.export import export_snapshot

    _export_world(store, hasher)
    assert isinstance(store, CypherStore)
    real = store.read_columns
    broken = "MATCH (a) RETURN a.broken("  # the engine's own syntax error
    with pytest.raises(Exception) as direct:
        real(broken, {"lo": 0, "hi": 3}, ())
    calls: list[int] = []

    def failing_fifth(query: str, params: Mapping[str, Any], ints: tuple[str, ...]) -> Row:
        calls.append(1)
        return real(broken if len(calls) == 5 else query, params, ints)

    monkeypatch.setattr(store, "read_columns", failing_fifth)
    with pytest.raises(direct.type):
        export_snapshot(store, 3, prefetch=3)
    assert len(calls) >= 5
    assert not [t for t in threading.enumerate() if t.name.startswith("snapshot-page")]


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


def test_profile_fields_keep_their_newest_value_in_any_batch_order(
    store: GraphStore, hasher: Pseudonymiser
) -> None:
    """An older signup committed after a newer partial update (two workers) still fills the
    fields only it has, and never overrides the newer ones."""
    signed_up = signup("s", "acc", ts="2026-01-01T00:00:00Z", country="US", birthdate="1990-04-01")
    moved = event("profile_update", "m", "acc", ts="2026-02-01T00:00:00Z", country="FR")
    same_ms = [  # equal times: the greater value wins, whatever the order
        event("profile_update", "t1", "acc", ts="2026-03-01T00:00:00Z", city="Lyon"),
        event("profile_update", "t2", "acc", ts="2026-03-01T00:00:00Z", city="Paris"),
    ]
    newest_first = records(hasher, [same_ms[1], moved, same_ms[0], signed_up])
    for i, rec in enumerate(newest_first):
        store.apply_batch(Batch(f"b{i}", [rec]))
    account = store.account("acc")
    assert account is not None
    assert account["country"] == "FR"
    assert account["created_at"] == newest_first[-1]["ts"]  # the signup, applied last
    (stored,) = store.read("MATCH (a:Account {id: 'acc'}) RETURN a.city AS city")
    assert stored["city"] == "paris"  # the tie, settled in the graph as in the rows below
    builder = SnapshotBuilder()
    store.stream_snapshot(builder)
    snap = builder.build()
    assert snap.country[0] == "FR" and snap.birthdate[0] == "1990-04-01"
    in_order = build_statements(records(hasher, [signed_up, moved, *same_ms]))[0].rows[0]
    reordered = build_statements(newest_first)[0].rows[0]
    assert in_order == reordered
    assert (in_order["country"], in_order["city"]) == ("FR", "paris")


def test_raw_identifiers_never_reach_the_graph(store: GraphStore, world: list[Record]) -> None:
    store.apply_batch(Batch("b-1", world))
    dump = store.read("MATCH (n) RETURN properties(n) AS p")
    text = repr(dump).lower()
    for secret in (
        "alice.b",
        "alicebx",
        "aliceb",  # the stem of aliceb@gmail.com, kept only as a keyed hash
        "4155550101",
        "203.0.113.7",
        "tab-1",
        "4111",
        "alice brown",
    ):
        assert secret not in text


def _accounts_per_identifier(store: GraphStore, kind: IdentifierKind) -> dict[str, list[str]]:
    """Per identifier of `kind` in the store's snapshot, its accounts (sorted)."""
    builder = SnapshotBuilder()
    store.stream_snapshot(builder)
    snap = builder.build()
    cols = np.flatnonzero(snap.kind_mask(kind))
    users = snap.links.tocsc()[:, cols]
    return {
        str(snap.identifiers[c]): sorted(str(snap.accounts[r]) for r in users[:, j].nonzero()[0])
        for j, c in enumerate(cols)
    }


def test_email_stems_join_numbered_mailboxes_of_one_provider(
    store: GraphStore, hasher: Pseudonymiser
) -> None:
    recs = records(
        hasher,
        [
            signup("s1", "u1", email="mark.jones17@gmail.com"),
            signup("s2", "u2", email="MarkJones18+shop@gmail.com"),
            signup("s3", "u3", email="mark.jones19@outlook.com"),
            signup("s4", "u4", email="12345678@qq.com"),  # no stem: nothing but digits
        ],
    )
    store.apply_batch(Batch("b-stems", recs))
    s = store.summary()
    assert s.nodes["EmailStem"] == 2
    assert s.edges["USES_EMAIL_STEM"] == 3
    assert sorted(_accounts_per_identifier(store, IdentifierKind.EMAIL_STEM).values()) == [
        ["u1", "u2"],
        ["u3"],
    ]
    dump = repr(store.read("MATCH (n:EmailStem) RETURN properties(n) AS p")).lower()
    assert "markjones" not in dump and "mark.jones" not in dump


def test_emulator_agents_link_their_family_and_a_phone_agent_nothing(
    store: GraphStore, hasher: Pseudonymiser
) -> None:
    recs = records(
        hasher,
        [
            signup("s1", "u1", device_id="d1", user_agent="App/5 (Android 9; ASUS_Z01QD)"),
            event("login", "l1", "u2", device_id="d1", user_agent="App/5 (Android 9; ASUS_Z01QD)"),
            event("login", "l2", "u2", device_id="d2", user_agent="x (Android 14; sdk_gphone64)"),
            event("login", "l3", "u3", device_id="d3", user_agent="App/5 (Android 14; Pixel 8)"),
        ],
    )
    store.apply_batch(Batch("b-emulators", recs))
    s = store.summary()
    assert s.nodes["Emulator"] == 2
    assert s.edges["USES_EMULATOR"] == 3
    device = hasher.digest(IdentifierKind.DEVICE, "d1"), hasher.digest(IdentifierKind.DEVICE, "d2")
    assert _accounts_per_identifier(store, IdentifierKind.EMULATOR) == {
        f"desktop-player:{device[0]}": ["u1", "u2"],
        f"android-sdk:{device[1]}": ["u2"],
    }


def test_read_is_read_only(store: GraphStore) -> None:
    from ringwatch.errors import RingwatchError

    with pytest.raises((RingwatchError, Exception)):
        store.read("CREATE (:Account {id: 'x'})")
    assert store.summary().nodes["Account"] == 0


def test_schema_is_idempotent(store: GraphStore) -> None:
    store.ensure_schema()
    store.ensure_schema()
    store.ping()


# -- live facts (decisions) ------------------------------------------------------------------------

STRONG_KINDS = (
    IdentifierKind.DEVICE,
    IdentifierKind.PHONE,
    IdentifierKind.CARD,
    IdentifierKind.EMAIL,
)


@pytest.fixture
def ring_world(store: GraphStore, hasher: Pseudonymiser) -> dict[str, str]:
    """ann (banned) and bob share device dev-a and are ring r1 (fraud); cat uses dev-a too and the
    kiosk, a hub of four accounts; cat is in r2 (suspicious) with dan and r3 (benign) with eve.
    Returns the pseudonymised keys by name."""
    raw = [
        signup(
            "w1",
            "ann",
            ts="2026-01-01T00:00:00Z",
            device_id="dev-a",
            phone="+14155550177",
            ip="203.0.113.5",
        ),
        event("enforcement", "w2", "ann", ts="2026-01-05T00:00:00Z", action="ban"),
        signup("w3", "bob", device_id="dev-a", card="card-1", ip="203.0.113.6"),
        signup(
            "w4",
            "cat",
            ts="2026-02-01T00:00:00Z",
            device_id="dev-a",
            email="cat@example.org",
            ip="203.0.113.7",
            birthdate="1991-02-03",
        ),
        event("login", "w5", "cat", device_id="kiosk"),
        signup("w6", "dan", device_id="kiosk", ip="198.51.100.1"),
        signup("w7", "eve", device_id="kiosk", ip="198.51.100.2"),
        signup("w8", "fay", device_id="kiosk", card="card-1"),
    ]
    recs = records(hasher, raw)
    store.apply_batch(Batch("b-live", recs))
    rings = [
        ("r1", "fraud", 0.9, ["ann", "bob"]),
        ("r2", "suspicious", 0.4, ["cat", "dan"]),
        ("r3", "benign", 0.7, ["cat", "eve"]),
    ]
    store.save_detection(
        DetectionWrite(
            run_id="run-live",
            kind="full",
            started_at=1_700_000_000_000,
            rings=[
                {"id": g, "score": score, "verdict": verdict, "size": len(m), "evidence": "{}"}
                for g, verdict, score, m in rings
            ],
            ring_history=[],
            members=[{"a": a, "ring": g} for g, _, _, m in rings for a in m],
            risk=[],
            evader_links=[],
            scope=["ann", "bob", "cat", "dan", "eve", "fay"],
            previous_rings=[],
            stats="{}",
        )
    )
    keys = {}
    for name, account, kind in [
        ("dev-a", "ann", IdentifierKind.DEVICE),
        ("phone", "ann", IdentifierKind.PHONE),
        ("card", "bob", IdentifierKind.CARD),
        ("email", "cat", IdentifierKind.EMAIL),
        ("kiosk", "dan", IdentifierKind.DEVICE),
    ]:
        keys[name] = next(k for r in recs if r["a"] == account for n, k in r["ids"] if n == kind)
    return keys


def _hits(facts: LiveFacts, kind: IdentifierKind) -> list[tuple[str, int, list[str], list[list]]]:
    return sorted(
        (h["key"], h["accounts"], sorted(h["banned"]), sorted(list(r) for r in h["rings"]))
        for h in facts.shared[kind]
    )


R1 = ["r1", "fraud", 2, 0.9]


def test_live_facts_reads_the_account_and_its_identifiers(
    store: GraphStore, ring_world: dict[str, str]
) -> None:
    k = ring_world
    keys = {kind: [] for kind in STRONG_KINDS} | {IdentifierKind.PHONE: [k["phone"]]}
    facts = store.live_facts("cat", keys, None, 3)
    account = facts.account
    assert account is not None
    assert account["created_at"] == 1_769_904_000_000  # 2026-02-01
    assert account["birthdate"] == "1991-02-03" and account["banned_at"] is None
    # Of its two active rings, the higher-scored one.
    assert (account["ring_id"], account["ring_verdict"], account["ring_size"]) == (
        "r3",
        "benign",
        2,
    )
    assert account["ring_score"] == pytest.approx(0.7)
    assert sorted(tuple(x) for x in account["identifiers"]) == sorted(
        [
            ("USES_DEVICE", k["dev-a"], 3),
            ("USES_DEVICE", k["kiosk"], 4),
            ("USES_EMAIL", k["email"], 1),
            ("USES_EMAIL_DOMAIN", "example.org", 1),
            ("USES_SUBNET", "203.0.113.0/24", 3),
        ]
    )
    assert set(facts.shared) == set(STRONG_KINDS)
    # Its own devices, looked up without being asked: dev-a shared with banned ann and bob (r1;
    # cat's own rings are not the neighbours'), the kiosk a hub over the cap (counted only).
    assert _hits(facts, IdentifierKind.DEVICE) == sorted(
        [(k["dev-a"], 3, ["ann"], [R1]), (k["kiosk"], 4, [], [])]
    )
    assert _hits(facts, IdentifierKind.PHONE) == [(k["phone"], 1, ["ann"], [R1])]  # asked for
    assert _hits(facts, IdentifierKind.EMAIL) == [(k["email"], 1, [], [])]
    assert _hits(facts, IdentifierKind.CARD) == []
    assert facts.subnets == {"203.0.113.0/24": 3}


def test_live_facts_without_the_account_looks_up_only_the_given_keys(
    store: GraphStore, ring_world: dict[str, str]
) -> None:
    k = ring_world
    keys = {kind: [] for kind in STRONG_KINDS} | {
        IdentifierKind.DEVICE: [k["kiosk"]],
        IdentifierKind.CARD: [k["card"], "no-such-card"],
    }
    facts = store.live_facts("cat", keys, "198.51.100.0/24", 10, own=False)
    assert facts.account is None
    # Under a cap of 10 the kiosk is expanded: dan (r2), eve (r3) and fay; not cat itself.
    assert _hits(facts, IdentifierKind.DEVICE) == [
        (k["kiosk"], 4, [], [["r2", "suspicious", 2, 0.4], ["r3", "benign", 2, 0.7]])
    ]
    assert _hits(facts, IdentifierKind.CARD) == [(k["card"], 2, [], [R1])]  # bob and fay
    assert _hits(facts, IdentifierKind.PHONE) == []
    assert _hits(facts, IdentifierKind.EMAIL) == []  # cat's own email: not asked for
    assert facts.subnets == {"198.51.100.0/24": 2}


def test_live_facts_of_a_new_account(store: GraphStore, ring_world: dict[str, str]) -> None:
    k = ring_world
    facts = store.live_facts(
        "newcomer",
        {IdentifierKind.DEVICE: [k["dev-a"]], IdentifierKind.PHONE: ["no-such-phone"]},
        "192.0.2.0/24",
        3,
    )
    assert facts.account is None
    # Every user of dev-a is another account: ann (banned, r1), bob (r1), cat (r2 and r3).
    assert _hits(facts, IdentifierKind.DEVICE) == [
        (
            k["dev-a"],
            3,
            ["ann"],
            sorted([R1, ["r2", "suspicious", 2, 0.4], ["r3", "benign", 2, 0.7]]),
        )
    ]
    assert facts.shared[IdentifierKind.PHONE] == []
    assert facts.subnets == {}
    nothing = store.live_facts("newcomer", {}, None, 3)
    assert nothing == LiveFacts(account=None, shared={}, subnets={})


def test_live_facts_from_the_event_loop_equal_the_blocking_read(
    store: GraphStore, ring_world: dict[str, str]
) -> None:
    """The decision's graph read sent from an event loop (`live_facts_on_loop`): on both
    engines the same facts as `live_facts` for every shape a decision asks (own row, cached
    row, a new account, nothing to look up), twice on one loop (its connection reused) and
    again on a second loop (a connection of the first loop cannot serve it)."""
    k = ring_world
    asks: list[tuple[str, Mapping[IdentifierKind, list[str]], str | None, int, bool]] = [
        (
            "cat",
            {kind: [] for kind in STRONG_KINDS} | {IdentifierKind.PHONE: [k["phone"]]},
            None,
            3,
            True,
        ),
        (
            "cat",
            {IdentifierKind.DEVICE: [k["kiosk"]], IdentifierKind.CARD: [k["card"]]},
            "198.51.100.0/24",
            10,
            False,
        ),
        ("newcomer", {IdentifierKind.DEVICE: [k["dev-a"]]}, "192.0.2.0/24", 3, True),
        ("newcomer", {}, None, 3, True),
    ]

    async def on_loop() -> list[LiveFacts | None]:
        return [
            await store.live_facts_on_loop(a, keys, subnet, cap, own=own)
            for a, keys, subnet, cap, own in asks + asks
        ]

    for _ in range(2):
        got = asyncio.run(on_loop())
        want = [
            store.live_facts(a, keys, subnet, cap, own=own) for a, keys, subnet, cap, own in asks
        ]
        assert got == want + want
        assert got[0] is not None and got[0].account is not None  # not vacuous


def test_a_scope_follows_personal_identifiers_to_the_end_and_places_a_bounded_number_of_times(
    store: GraphStore, hasher: Pseudonymiser
) -> None:
    """a and b share a phone's device, b and c a home address, c and d a card, d and e an
    address, e and f another. From a: personal identifiers are followed whatever their
    distance, addresses (and their subnets) `place_hops` times; the core is what lies one
    place fewer away, whose places are all inside the scope."""
    raw = [
        signup("s-a", "a", device_id="d-ab"),
        signup("s-b", "b", device_id="d-ab", ip="10.0.1.1"),
        signup("s-c", "c", ip="10.0.1.1", card="card-cd"),
        signup("s-d", "d", card="card-cd", ip="10.0.2.1"),
        signup("s-e", "e", ip="10.0.2.1"),
        event("login", "l-e", "e", ip="10.0.3.1"),
        signup("s-f", "f", ip="10.0.3.1"),
    ]
    store.apply_batch(Batch("b-hops", records(hasher, raw)))
    caps = {kind: 20 for kind in IdentifierKind}

    one = store.expand_scope(["a"], caps, 100, place_hops=1)
    assert (one.accounts, one.core, one.complete) == (["a", "b", "c", "d"], ["a", "b"], True)
    two = store.expand_scope(["a"], caps, 100, place_hops=2)
    assert (two.accounts, two.core) == (["a", "b", "c", "d", "e"], ["a", "b", "c", "d"])
    whole = store.expand_scope(["a"], caps, 100)
    assert whole.accounts == whole.core == ["a", "b", "c", "d", "e", "f"]
    # Without addresses nothing but the device is followed.
    personal = {
        kind: cap
        for kind, cap in caps.items()
        if kind not in (IdentifierKind.IP, IdentifierKind.SUBNET)
    }
    assert store.expand_scope(["a"], personal, 100).accounts == ["a", "b"]
    capped = store.expand_scope(["a"], caps, 3)
    assert not capped.complete and len(capped.accounts) > 3
