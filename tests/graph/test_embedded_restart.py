"""The embedded engine must come back with every acknowledged batch after a crash or restart.

Guards the one-query-per-batch design: FalkorDB 4.16 crashed replaying graph writes made inside
MULTI/EXEC from its append-only file.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

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
