"""Nothing lost, nothing double-counted: real Celery workers, real Redis, real Neo4j.

A worker is SIGKILLed mid-ingest, and Neo4j is restarted mid-ingest; after recovery the graph's
counts must equal the accepted events exactly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from ringwatch.graph.store import GraphStore
from ringwatch.identity import Pseudonymiser
from ringwatch.services.coalescing import CoalescingQueue
from ringwatch.services.ingest import IngestService
from ringwatch.services.intake import Intake
from ringwatch.settings import Settings
from ringwatch.workers.app import make_celery
from tests.conftest import NEO4J_PASSWORD, NEO4J_URI, REDIS_URL, TEST_KEY
from tests.services.histories import logins
from tests.workers.processes import stop

pytestmark = [pytest.mark.neo4j, pytest.mark.redis, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
EVENTS = 12_000
DB = 3


@pytest.fixture
def env(tmp_path: Path, neo4j_store: GraphStore) -> dict[str, str]:
    redis.Redis.from_url(str(REDIS_URL), db=DB).flushdb()
    return {
        **os.environ,
        "RINGWATCH_ENV": "test",
        "RINGWATCH_NEO4J_URI": str(NEO4J_URI),
        "RINGWATCH_NEO4J_PASSWORD": NEO4J_PASSWORD,
        "RINGWATCH_REDIS_URL": f"{REDIS_URL}/{DB}",
        "RINGWATCH_HASH_KEY": TEST_KEY.decode(),
        "RINGWATCH_BATCH_SIZE": "200",
        "RINGWATCH_RESEND_AFTER_S": "3",
        "RINGWATCH_DATA_DIR": str(tmp_path / "data"),
    }


def start_worker(env: dict[str, str], tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - the worker outlives this call
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "ringwatch.workers.app",
            "worker",
            "-B",
            "--concurrency=1",
            "--loglevel=INFO",
            "-n",
            f"{name}@%h",
            "-s",
            str(tmp_path / f"{name}-beat"),
        ],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@pytest.fixture
def ingest(env: dict[str, str], hasher: Pseudonymiser) -> Iterator[tuple[IngestService, object]]:
    settings = Settings(
        _env_file=None,
        **{
            k.removeprefix("RINGWATCH_").lower(): v
            for k, v in env.items()
            if k.startswith("RINGWATCH_")
        },
    )  # type: ignore[call-arg]
    from ringwatch.graph.factory import open_store

    store = open_store(settings)
    client = redis.Redis.from_url(str(settings.redis_url))
    celery = make_celery(settings)

    # As the API sends them: ids coalesced, several batches per task (ingest.apply_batches);
    # the sweeper re-sends single batches (ingest.apply_batch).
    queue = CoalescingQueue(
        lambda ids, rids: celery.send_task("ingest.apply_batches", args=[ids, rids]), max_ids=10
    )
    yield IngestService(store, Intake(client, 30), Pseudonymiser(TEST_KEY), 200), queue
    queue.close()
    store.close()


def wait_for(service: IngestService, expected: int, timeout_s: float, tmp_path: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if service.intake.pending_count() == 0:
            edges = service.store.summary().edge_events.get("USES_DEVICE", 0)
            if edges == expected:
                return
        time.sleep(1)
    summary = service.store.summary()
    batches = service.store.read(
        "MATCH (b:Batch) WHERE b.id STARTS WITH 'api:' RETURN count(b) AS n, sum(b.events) AS e"
    )
    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in tmp_path.glob("*.log"))
    pytest.fail(
        f"not drained in {timeout_s}s: pending={service.intake.pending_count()} "
        f"device events={summary.edge_events.get('USES_DEVICE')} (want {expected}) "
        f"batches={batches} dead={service.intake.dead()}\n{logs}"
    )


def test_worker_killed_mid_ingest_loses_and_doubles_nothing(
    env: dict[str, str], ingest: tuple[IngestService, object], tmp_path: Path
) -> None:
    service, queue = ingest
    report = service.accept(list(enumerate(logins(EVENTS, prefix="k"))), queue)  # type: ignore[arg-type]
    assert report.accepted == EVENTS
    worker = start_worker(env, tmp_path, "first")
    try:
        deadline = time.monotonic() + 120
        while service.intake.pending_count() > len(report.batches) * 2 // 3:
            assert time.monotonic() < deadline, "the worker made no progress"
            time.sleep(0.05)
    finally:
        stop(worker, signal.SIGKILL)
    left = service.intake.pending_count()
    assert 0 < left < len(report.batches), "the kill should land mid-ingest"
    second = start_worker(env, tmp_path, "second")
    try:
        wait_for(service, EVENTS, 180, tmp_path)
    finally:
        stop(second)
    summary = service.store.summary()
    assert summary.edge_events["USES_DEVICE"] == EVENTS
    assert summary.edge_events["USES_IP"] == EVENTS
    # Ingestion batches only: the workers' incremental detection runs claim batches of their own.
    applied = service.store.read(
        "MATCH (b:Batch) WHERE b.id STARTS WITH 'api:' "
        "RETURN count(b) AS n, sum(b.events) AS events"
    )[0]
    assert applied == {"n": len(report.batches), "events": EVENTS}


def test_neo4j_restart_mid_ingest_loses_and_doubles_nothing(
    env: dict[str, str], ingest: tuple[IngestService, object], tmp_path: Path
) -> None:
    service, queue = ingest
    worker = start_worker(env, tmp_path, "steady")
    try:
        first = service.accept(list(enumerate(logins(EVENTS // 2, prefix="r"))), queue)  # type: ignore[arg-type]
        while service.intake.pending_count() > len(first.batches) // 2:
            time.sleep(0.05)
        restart_log = tmp_path / "neo4j-restart.log"
        restart = subprocess.Popen(
            ["bash", "scripts/neo4j.sh", "restart"],
            cwd=REPO,
            env={**os.environ, "NEO4J_PASSWORD": NEO4J_PASSWORD},
            stdout=restart_log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        # Events keep arriving while the database is down; Redis holds them.
        second = service.accept(
            list(enumerate(logins(EVENTS // 2, prefix="s"))),
            queue,  # type: ignore[arg-type]
        )
        assert restart.wait(timeout=180) == 0, restart_log.read_text(errors="replace")
        assert first.accepted + second.accepted == EVENTS, (first, second)
        wait_for(service, EVENTS, 240, tmp_path)
    finally:
        stop(worker)
    summary = service.store.summary()
    assert summary.edge_events["USES_DEVICE"] == EVENTS
    assert summary.edge_events["USES_IP"] == EVENTS
