"""`ringwatch load` against `ringwatch ingest` on both engines: the same graph node by node and
edge by edge, the dedupe state recorded, ingest carrying on from a loaded store."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from ringwatch.errors import Conflict
from ringwatch.graph.bulk.neo4j import Neo4jAdmin
from ringwatch.graph.bulk.targets import BulkTarget, FalkorDBTarget, Neo4jTarget
from ringwatch.graph.embedded import EmbeddedServer
from ringwatch.graph.falkordb_store import FalkorDBStore
from ringwatch.graph.labels import KEY_PROPERTY
from ringwatch.graph.store import GraphStore
from ringwatch.identity import Pseudonymiser
from ringwatch.services.bulk_load import BulkLoadService
from ringwatch.services.ingest import IngestService
from ringwatch.services.intake import Intake
from ringwatch.worlds import generate
from tests.events import event, signup
from tests.graphdump import dump

pytestmark = pytest.mark.redis
REPO = Path(__file__).resolve().parents[2]


def _write(path: Path, events: list[dict[str, Any] | str]) -> Path:
    with open(path, "wb") as out:
        for e in events:
            out.write((e.encode() if isinstance(e, str) else orjson.dumps(e)) + b"\n")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path]:
    """(history files, a later file): a generated world plus the cases a world may not hold."""
    root = tmp_path_factory.mktemp("load")
    generate(root / "world", 300, 3, workers=1)
    world = root / "world" / "events.jsonl"
    replayed = orjson.loads(world.read_bytes().splitlines()[5])
    extras = _write(
        root / "extras.jsonl",
        [
            signup(
                "x1", "xa", ts="2026-03-01T10:00:00Z", email="A@Example.com", phone="+441632960001"
            ),
            signup("x2", "xb", ts="2026-03-01T10:00:00Z", invited_by="xa", city="Köln"),
            event("relation", "x3", "xa", other_account_id="ghost", kind="friend"),
            event("relation", "x4", "xa", other_account_id="xb", kind="block"),
            event("engage", "x5", "xa", target_id="post-1", action="like"),
            event(
                "engage", "x6", "xa", target_id="post-1", action="like", ts="2026-03-05T00:00:00Z"
            ),
            # Enforcement order: a tie on time goes to the greater event id; a ban's time
            # survives a later suspend, a clear drops it.
            event("enforcement", "x7", "xa", action="ban", ts="2026-03-03T00:00:00Z"),
            event("enforcement", "x8", "xa", action="suspend", ts="2026-03-04T00:00:00Z"),
            event("enforcement", "x9", "xb", action="restrict", ts="2026-03-03T00:00:00Z"),
            event(
                "enforcement",
                "x9b",
                "xb",
                action="ban",
                ts="2026-03-03T00:00:00Z",
                reason='said "no", twice,\nthen left',
            ),
            event("profile_update", "x10", "xb", city="Bonn", ts="2026-03-06T00:00:00Z"),
            "{not json",
            {"type": "login"},
            replayed,  # already in the world file: a duplicate
            event("login", "x11", "xa", ip="203.0.113.9", device_id="d-shared"),
            event("login", "x11", "xa", ip="203.0.113.9", device_id="d-shared"),  # twice
            event("login", "x12", "xb", ip="203.0.113.9", device_id="d-shared"),
        ],
    )
    later = _write(
        root / "later.jsonl",
        [
            event(
                "login",
                "y1",
                "xa",
                ip="203.0.113.10",
                device_id="d-shared",
                ts="2026-04-01T00:00:00Z",
            ),
            signup("y2", "yc", ts="2026-04-01T00:00:00Z", device_id="d-shared"),
            event("enforcement", "y3", "xa", action="clear", ts="2026-04-02T00:00:00Z"),
            event("relation", "y4", "ghost", other_account_id="xa", kind="follow"),
            event("login", "x12", "xb", ip="203.0.113.9", device_id="d-shared"),  # seen before
        ],
    )
    return [world, extras], later


# The Neo4j load stops and restarts the test server (minutes on a loaded machine).
@pytest.fixture(
    params=[
        "embedded",
        pytest.param(
            "neo4j", marks=[pytest.mark.neo4j, pytest.mark.slow, pytest.mark.timeout(2400)]
        ),
    ]
)
def engine(
    request: pytest.FixtureRequest, embedded: EmbeddedServer, tmp_path: Path
) -> Iterator[tuple[GraphStore, BulkTarget]]:
    if request.param == "embedded":
        name = f"test-{uuid.uuid4().hex[:12]}"
        store = FalkorDBStore(embedded.client(), name)
        store.ensure_schema()
        target = FalkorDBTarget(
            embedded.client(), name, start_dump=partial(embedded.compact, wait=False)
        )
        yield store, target
        store.clear()
        return
    neo4j_store: GraphStore = request.getfixturevalue("neo4j_store")
    script = f"bash {REPO / 'scripts' / 'neo4j.sh'}"
    assert os.environ.get("NEO4J_PORT"), "scripts/test.sh exports the test server's port"
    admin = Neo4jAdmin(f"{script} admin", f"{script} stop", f"{script} start")
    yield neo4j_store, Neo4jTarget(admin, work_dir=tmp_path / "load-work")
    neo4j_store.clear()


def _ingest(store: GraphStore, client: redis.Redis, hasher: Pseudonymiser) -> IngestService:
    return IngestService(store, Intake(client, dedupe_window_days=3650), hasher, batch_size=100)


def _constraints(store: GraphStore) -> set[tuple[str, str]]:
    if store.engine == "neo4j":
        rows = store.read("SHOW CONSTRAINTS YIELD labelsOrTypes, properties, type")
        return {
            (r["labelsOrTypes"][0], r["properties"][0]) for r in rows if r["type"] == "UNIQUENESS"
        }
    rows = store.read("CALL db.constraints()")
    return {(r["label"], r["properties"][0]) for r in rows if r["type"] == "UNIQUE"}


# With normaliser processes the chunks come back from other processes, in file order.
@pytest.mark.parametrize("normalisers", [0, 2])
def test_load_builds_ingests_graph_and_ingest_carries_on(
    engine: tuple[GraphStore, BulkTarget],
    normalisers: int,
    redis_client: redis.Redis,
    hasher: Pseudonymiser,
    files: tuple[list[Path], Path],
) -> None:
    store, target = engine
    history, later = files
    ingest = _ingest(store, redis_client, hasher)
    ingested = [ingest.ingest_file(path) for path in history]
    want = dump(store)
    ingest.ingest_file(later)
    want_after_later = dump(store)

    store.clear()
    store.ensure_schema()
    redis_client.flushdb()
    ingest = _ingest(store, redis_client, hasher)
    loader = BulkLoadService(store, ingest, target)
    report = loader.load(history, normalisers=normalisers)

    assert report.accepted == sum(r.accepted for r in ingested) > 2000
    assert report.duplicates == sum(r.duplicates for r in ingested) == 2
    # Rejections keep their line and reason, whichever process validated them.
    assert [(p.index, p.field, p.reason) for p in report.rejected] == [
        (p.index, p.field, p.reason) for r in ingested for p in r.rejected
    ]
    assert report.batches == [b for r in ingested for b in r.batches]
    got = dump(store)
    assert len(got[0]) == report.nodes and len(got[1]) == report.edges
    assert got[0] == want[0]  # every node with every property
    assert got[1] == want[1]  # every edge with its ends and properties
    assert set(KEY_PROPERTY.items()) <= _constraints(store)
    if isinstance(target, Neo4jTarget):
        assert target.work_dir is not None
        assert list(target.work_dir.iterdir()) == []  # nothing left behind by a good import

    # The same events again add nothing: every batch is recorded as applied...
    again = [ingest.ingest_file(path) for path in history]
    assert sum(r.skipped_batches for r in again) == len(report.batches)
    assert sum(r.accepted for r in again) == 0
    # ...and each event id is claimed, whatever file it comes in.
    copy = history[1].with_name("copy.jsonl")
    copy.write_bytes(history[1].read_bytes())
    assert ingest.ingest_file(copy).accepted == 0
    assert dump(store) == want

    assert ingest.ingest_file(later).accepted == 4
    assert dump(store) == want_after_later


def test_load_refuses_a_store_that_holds_nodes(
    engine: tuple[GraphStore, BulkTarget],
    redis_client: redis.Redis,
    hasher: Pseudonymiser,
    files: tuple[list[Path], Path],
) -> None:
    store, target = engine
    history, later = files
    ingest = _ingest(store, redis_client, hasher)
    ingest.ingest_file(later)
    before = dump(store)
    with pytest.raises(Conflict, match="already holds"):
        BulkLoadService(store, ingest, target).load(history)
    assert dump(store) == before
