"""The ingest service over real Redis and both engines: dedupe, exact counts, resumable files."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from ringwatch.event_files import file_digest
from ringwatch.graph.store import ApplyResult, Batch, GraphStore
from ringwatch.identity import Pseudonymiser
from ringwatch.records import Record
from ringwatch.services.ingest import IngestService
from ringwatch.services.intake import Intake
from tests.events import signup
from tests.queues import ListQueue
from tests.services.histories import logins

pytestmark = pytest.mark.redis


@pytest.fixture
def service(store: GraphStore, redis_client: redis.Redis, hasher: Pseudonymiser) -> IngestService:
    return IngestService(store, Intake(redis_client, dedupe_window_days=30), hasher, batch_size=100)


def test_accept_then_apply_counts_each_event_once(service: IngestService) -> None:
    queue = ListQueue()
    raw = logins(250)
    report = service.accept(list(enumerate(raw + raw[:40] + [{"type": "login"}])), queue)
    assert report.accepted == 250
    assert report.duplicates == 40
    assert [p.index for p in report.rejected] == [290, 290, 290]  # three missing fields
    assert len(queue.ids) == 3  # 250 events in batches of 100
    for batch_id in queue.ids + queue.ids:  # every task delivered twice
        service.apply(batch_id)
    assert service.intake.pending_count() == 0
    assert service.store.summary().edge_events["USES_DEVICE"] == 250
    again = service.accept(list(enumerate(raw[:10])), queue)
    assert again.accepted == 0 and again.duplicates == 10


def test_normalisation_problems_are_rejections(service: IngestService) -> None:
    raw = [
        signup("s1", "a", phone="12"),
        signup("s2", "b", email="not-an-email"),
        signup("s3", "c", ip="1.2.3.4"),
    ]
    report = service.accept(list(enumerate(raw)), ListQueue())
    assert report.accepted == 1
    assert [(p.index, p.field) for p in report.rejected] == [(0, "phone"), (1, "email")]


def test_file_ingest_resumes_after_a_crash(service: IngestService, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    raw = logins(1000)
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in raw) + b"\nnot json\n")
    batches_done = 0

    def crash_after_three(n: int) -> None:
        nonlocal batches_done
        batches_done += 1
        if batches_done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        service.ingest_file(path, progress=crash_after_three)
    report = service.ingest_file(path)
    assert report.skipped_batches == 3
    assert report.accepted == 700
    assert [(p.index, p.field) for p in report.rejected] == [(1001, "event")]
    assert service.store.summary().edge_events["USES_DEVICE"] == 1000
    third = service.ingest_file(path)  # writes nothing: every batch with events is skipped
    assert third.skipped_batches == 10 and third.accepted == 0
    assert service.store.summary().edge_events["USES_DEVICE"] == 1000


def test_csv_files_read_like_jsonl(service: IngestService, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "event_id,type,ts,account_id,ip,device_id,card,amount\n"
        "c1,login,2026-01-01T00:00:00Z,a1,192.0.2.1,d1,,\n"
        "c2,payment,2026-01-01T00:01:00Z,a1,,,card-1,12.50\n"
        "c3,payment,2026-01-01T00:02:00Z,a2,,,,3\n"
    )
    report = service.ingest_file(path)
    assert report.accepted == 2
    assert [(p.index, p.field) for p in report.rejected] == [(4, "card")]
    assert service.store.summary().edges["USES_CARD"] == 1


def test_overdue_batches_are_resent_once_per_interval(service: IngestService) -> None:
    import time

    queue = ListQueue()
    service.accept(list(enumerate(logins(10))), queue)
    assert service.intake.overdue(older_than_s=0) == queue.ids
    time.sleep(0.01)
    assert service.intake.overdue(older_than_s=30) == []  # just re-sent: not again yet
    service.apply(queue.ids[0])
    assert service.intake.overdue(older_than_s=0) == []
    assert service.intake.pending_count() == 0


def test_concurrent_writers_build_the_same_graph_as_one(
    service: IngestService, redis_client: redis.Redis, tmp_path: Path
) -> None:
    """Batches commute: with three writers committing in any order, every account ends with the
    same counts, times, profile, status and identifiers as a one-writer load of the same file."""
    from ringwatch.worlds import generate

    generate(tmp_path, 400, 3, "heavy-fraud")
    path = tmp_path / "events.jsonl"
    accounts = sorted({orjson.loads(line)["account_id"] for line in path.read_bytes().splitlines()})

    def graph() -> tuple[object, list[object]]:
        summary = service.store.summary(top=20)
        return (summary.nodes, summary.edges, summary.edge_events), [
            service.store.account(a, identifiers_per_kind=100) for a in accounts
        ]

    one = service.ingest_file(path, writers=1)
    expected = graph()
    service.store.clear()
    service.store.ensure_schema()
    redis_client.flushdb()  # the same file again, as if for the first time
    three = service.ingest_file(path, writers=3)
    assert three.accepted == one.accepted > 1000
    assert len(three.batches) > 10  # enough batches for writers to overlap
    summary, after = graph()
    assert summary == expected[0]
    changed = [(a, b) for a, b in zip(expected[1], after, strict=True) if a != b]
    assert not changed, changed[:2]


def test_normaliser_processes_build_the_same_graph_and_rejections(
    service: IngestService, redis_client: redis.Redis, tmp_path: Path
) -> None:
    """Validation in worker processes is the same validation: same accepted events, the same
    rejections by line, and the same graph, account by account, as validating in-process."""
    from ringwatch.worlds import generate

    generate(tmp_path, 300, 5, "heavy-fraud")
    path = tmp_path / "events.jsonl"
    lines = path.read_bytes().splitlines()
    lines[7] = b"{not json"
    lines[50] = orjson.dumps({**orjson.loads(lines[50]), "ts": "yesterday"})
    path.write_bytes(b"\n".join(lines) + b"\n")
    accounts = sorted({orjson.loads(line)["account_id"] for line in lines if line != b"{not json"})

    def graph() -> tuple[object, list[object]]:
        summary = service.store.summary(top=20)
        return (summary.nodes, summary.edges, summary.edge_events), [
            service.store.account(a, identifiers_per_kind=100) for a in accounts
        ]

    inline = service.ingest_file(path, normalisers=0)
    expected = graph()
    service.store.clear()
    service.store.ensure_schema()
    redis_client.flushdb()
    parallel = service.ingest_file(path, normalisers=2, writers=2)
    assert parallel.accepted == inline.accepted == len(lines) - 2
    assert [(p.index, p.field) for p in parallel.rejected] == [(8, "event"), (51, "ts")]
    assert [(p.index, p.field) for p in inline.rejected] == [(8, "event"), (51, "ts")]
    assert parallel.batches == inline.batches
    summary, after = graph()
    assert summary == expected[0]
    changed = [(a, b) for a, b in zip(expected[1], after, strict=True) if a != b]
    assert not changed, changed[:2]


def test_batches_grouped_behind_a_slow_writer_resume_exactly_once(
    service: IngestService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `group`, batches claimed while the writer is busy go as one write. A crash after
    the first group leaves exactly the batches whose markers were written: the resumed run
    skips those, applies the rest, and every event counts once."""
    path = tmp_path / "events.jsonl"
    raw = logins(1000)
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in raw) + b"\n")
    store = service.store
    sizes: list[int] = []
    apply_one, apply_many = store.apply_batch, store.apply_batches
    claim, claimed = service._claim_chunk, threading.Event()
    claims = 0

    def counted_claim(*args: Any) -> list[Record]:
        nonlocal claims
        fresh = claim(*args)
        claims += 1
        if claims == 5:
            claimed.set()
        return fresh

    def slow_one(batch: Batch) -> ApplyResult:
        sizes.append(1)
        # The writer is behind until the next four batches were claimed: they wait as a group.
        assert claimed.wait(30)
        return apply_one(batch)

    def counted_many(batches: Sequence[Batch]) -> list[ApplyResult]:
        sizes.append(len(batches))
        return apply_many(batches)

    monkeypatch.setattr(service, "_claim_chunk", counted_claim)
    monkeypatch.setattr(store, "apply_batch", slow_one)
    monkeypatch.setattr(store, "apply_batches", counted_many)
    calls = 0

    def crash_on_second(n: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        service.ingest_file(path, progress=crash_on_second, group=4)
    assert sizes == [1, 4]  # the first write alone, then the four batches claimed meanwhile
    digest = file_digest(path)
    written = [n for n in range(10) if store.batch_applied(f"file:{digest}:{n}")]
    assert written == [0, 1, 2, 3, 4]
    monkeypatch.undo()
    report = service.ingest_file(path, group=4)
    assert report.skipped_batches == 5
    assert report.accepted == 500
    assert service.store.summary().edge_events["USES_DEVICE"] == 1000
    third = service.ingest_file(path, group=4)
    assert third.skipped_batches == 10 and third.accepted == 0
    assert service.store.summary().edge_events["USES_DEVICE"] == 1000


def test_each_days_claims_expire_after_the_dedupe_window(redis_client: redis.Redis) -> None:
    intake = Intake(redis_client, dedupe_window_days=30)
    day_ms = 86_400_000
    records = [{"id": f"ev{i}", "ts": 1_767_225_600_000 + (i % 2) * day_ms} for i in range(6)]
    claimed = intake.accept("b1", [*records, records[0]], keep_payload=False)
    assert claimed.duplicate_indexes == [6]  # the same event twice in one batch
    keys = sorted(redis_client.keys("rw:dedupe:*"))
    assert len(keys) == 2
    for key in keys:
        assert 30 * 86400 < redis_client.ttl(key) <= 31 * 86400
    # A day's hash that lost its expiry gets it back with the next claim on that day.
    redis_client.persist(keys[0])
    intake.accept("b2", [{"id": "ev-late", "ts": records[0]["ts"]}], keep_payload=False)
    assert redis_client.ttl(keys[0]) > 30 * 86400
