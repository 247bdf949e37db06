"""The embedded engine must come back with every acknowledged batch after a crash or restart.

Guards the one-query-per-batch design: FalkorDB 4.16 crashed replaying graph writes made inside
MULTI/EXEC from its append-only file.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import pytest

from ringwatch.errors import Unavailable
from ringwatch.events import parse_event
from ringwatch.graph.embedded import EmbeddedServer
from ringwatch.graph.falkordb_store import FalkorDBStore
from ringwatch.graph.store import Batch
from ringwatch.identity import Pseudonymiser
from ringwatch.records import normalise
from tests.events import event

pytestmark = pytest.mark.embedded


def open_store(server: EmbeddedServer) -> FalkorDBStore:
    store = FalkorDBStore(server.ensure_running().client(), "ringwatch")
    store.ensure_schema()
    return store


@pytest.mark.parametrize("how", ["sigkill", "shutdown"])
def test_data_survives_restart(tmp_path: Path, hasher: Pseudonymiser, how: str) -> None:
    raw = [
        event("login", f"e{i}", f"a{i % 11}", device_id=f"d{i % 4}", ip="192.0.2.9")
        for i in range(900)
    ]
    records = [normalise(parse_event(e), hasher) for e in raw]
    server = EmbeddedServer(tmp_path)
    store = open_store(server)
    for start in range(0, 900, 300):
        assert store.apply_batch(Batch(f"b{start}", records[start : start + 300])).applied
    before = store.summary()
    assert server.process is not None
    if how == "sigkill":
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
    else:
        server.stop()
    store.close()

    restarted = EmbeddedServer(tmp_path)
    try:
        store = open_store(restarted)
        after = store.summary()
        assert after.nodes == before.nodes
        assert after.edge_events == before.edge_events == {**after.edge_events, "USES_DEVICE": 900}
        assert not store.apply_batch(Batch("b300", records[300:600])).applied
        assert store.summary().edge_events["USES_DEVICE"] == 900
    finally:
        restarted.stop()


def test_clean_stop_leaves_a_dump_not_a_log_of_queries(
    tmp_path: Path, hasher: Pseudonymiser
) -> None:
    """A restart that replays every write query runs them before the indexes serve (the
    12-minute social-graph detect of issue 13); a clean stop must leave a graph dump instead,
    with no queries left to replay, and a restart from it must hold the same graph."""
    raw = [
        event(
            "relation",
            f"r{i}",
            f"a{i % 50}",
            other_account_id=f"a{(i * 7 + 1) % 50}",
            kind="friend",
        )
        for i in range(400)
    ]
    records = [normalise(parse_event(e), hasher) for e in raw]
    server = EmbeddedServer(tmp_path)
    store = open_store(server)
    assert store.apply_batch(Batch("friends", records)).applied
    before = store.summary()
    aof = tmp_path / "appendonlydir"
    replay = sorted(aof.glob("*.incr.aof"))
    assert replay and replay[-1].stat().st_size > 0  # the writes are logged as queries first
    server.stop()
    store.close()

    incremental = sorted(aof.glob("*.incr.aof"), key=lambda p: p.stat().st_mtime)
    assert incremental[-1].stat().st_size == 0
    assert sum(p.stat().st_size for p in aof.glob("*.base.rdb")) > 0
    restarted = EmbeddedServer(tmp_path)
    try:
        store = open_store(restarted)
        after = store.summary()
        assert after.nodes == before.nodes
        assert after.edges == before.edges and after.edges["FRIEND"] > 0
        assert not store.apply_batch(Batch("friends", records)).applied
    finally:
        restarted.stop()


def test_an_engine_that_stops_answering_and_working_is_replaced(
    tmp_path: Path, hasher: Pseudonymiser
) -> None:
    """FalkorDB 4.16 sometimes deadlocks replaying its log at start-up: silent, idle, for ever
    (the CI run of stop 26 waited on one until it was killed). A stopped process is the same to
    its clients; the owner must replace it, with every acknowledged batch."""
    records = [
        normalise(parse_event(event("login", f"e{i}", f"a{i}", device_id="d1")), hasher)
        for i in range(20)
    ]
    server = EmbeddedServer(tmp_path, wedged_after_s=2.0, control_timeout_s=0.5)
    store = open_store(server)
    assert store.apply_batch(Batch("b", records)).applied
    before = store.summary()
    store.close()
    assert server.process is not None
    wedged = server.process.pid
    os.kill(wedged, signal.SIGSTOP)
    try:
        store = open_store(server)
        assert server.process.pid != wedged
        assert store.summary() == before
        assert not store.apply_batch(Batch("b", records)).applied
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(wedged, signal.SIGKILL)
        server.stop()


def test_a_silent_engine_of_another_process_is_reported_not_waited_on_for_ever(
    tmp_path: Path,
) -> None:
    owner = EmbeddedServer(tmp_path).ensure_running()
    assert owner.process is not None
    os.kill(owner.process.pid, signal.SIGSTOP)
    try:
        with pytest.raises(Unavailable, match="does not answer"):
            EmbeddedServer(tmp_path, control_timeout_s=0.5).ensure_running(timeout_s=1.0)
    finally:
        os.kill(owner.process.pid, signal.SIGCONT)
        owner.stop()
