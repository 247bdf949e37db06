"""No automatic log rewrite may start while GRAPH.BULK commands are in flight (a 1M-account load
hung for good when one did: docs/performance.md, "The 1M load's hang"); the engine's own setting
comes back afterwards, also when the load fails. The load starts its own rewrite after the schema
and does not wait for it: the engine's clean stop does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from ringwatch.graph.bulk.graph import BulkGraph, Tables
from ringwatch.graph.bulk.targets import AUTO_REWRITE, FalkorDBTarget
from ringwatch.graph.embedded import EmbeddedServer, wait_for_log_rewrite
from ringwatch.graph.falkordb_store import FalkorDBStore
from ringwatch.graph.labels import KEY_PROPERTY
from ringwatch.records import Record

pytestmark = pytest.mark.embedded


class _Watching(redis.Redis):
    """A real client that notes the engine's auto-rewrite setting as each bulk command is sent."""

    seen: list[str]

    def execute_command(self, *args: Any, **options: Any) -> Any:
        if args and args[0] == "GRAPH.BULK":
            self.seen.append(str(self.config_get(AUTO_REWRITE)[AUTO_REWRITE]))
        return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]


def _tables(accounts: int) -> Tables:
    graph = BulkGraph()
    records: list[Record] = [
        {
            "id": f"e{i}",
            "t": "login",
            "ts": 1_700_000_000_000 + i,
            "a": f"a{i}",
            "ids": [["device", f"d{i % 7}"]],
        }
        for i in range(accounts)
    ]
    graph.add_batch("b0", records, 1)
    return graph.tables()


@pytest.fixture
def server(tmp_path: Path) -> Any:
    server = EmbeddedServer(tmp_path).ensure_running()
    yield server
    server.stop()


def _client(server: EmbeddedServer) -> _Watching:
    client = _Watching(unix_socket_path=str(server.socket_path))
    client.seen = []
    return client


def test_bulk_commands_run_with_automatic_rewrites_off_and_the_setting_comes_back(
    server: EmbeddedServer,
) -> None:
    client = _client(server)
    client.config_set(AUTO_REWRITE, 73)
    rewrites: list[str] = []

    def start_dump() -> bool:
        rewrites.append(str(client.config_get(AUTO_REWRITE)[AUTO_REWRITE]))
        return server.compact(wait=False)

    FalkorDBTarget(client, "g", start_dump=start_dump).load(_tables(40), lambda _: None)

    assert client.seen and set(client.seen) == {"0"}
    assert rewrites == ["0"]  # the load's own rewrite, with none automatic beside it
    assert client.config_get(AUTO_REWRITE)[AUTO_REWRITE] == "73"
    assert client.execute_command("GRAPH.QUERY", "g", "MATCH (a:Account) RETURN count(a)")[1] == [
        [40]
    ]


def test_a_failed_load_gives_the_setting_back(server: EmbeddedServer) -> None:
    client = _client(server)
    client.config_set(AUTO_REWRITE, 73)

    def start_dump() -> bool:
        raise OSError("no space left on device")

    with pytest.raises(OSError, match="no space"):
        FalkorDBTarget(client, "g", start_dump=start_dump).load(_tables(5), lambda _: None)

    assert client.config_get(AUTO_REWRITE)[AUTO_REWRITE] == "73"


def test_the_schema_is_made_before_the_loads_own_rewrite(server: EmbeddedServer) -> None:
    """The dump the load writes holds the schema: made after it, the schema was all the log
    held, and the engine's clean stop rewrote the whole dump again for it."""
    client = _client(server)
    store = FalkorDBStore(client, "g")
    steps: list[str] = []

    def schema() -> None:
        steps.append("schema")
        store.ensure_schema()

    def start_dump() -> bool:
        steps.append("dump")
        return server.compact(wait=False)

    FalkorDBTarget(client, "g", start_dump=start_dump).load(_tables(40), lambda _: None, schema)

    assert steps == ["schema", "dump"]
    rows = store.read("CALL db.constraints() YIELD label RETURN label")
    assert {row["label"] for row in rows} == {label.value for label in KEY_PROPERTY}


def test_a_dump_started_without_waiting_leaves_the_whole_graph_after_a_stop(
    server: EmbeddedServer,
) -> None:
    client = _client(server)
    before = int(client.info("persistence")["aof_rewrites"])
    FalkorDBTarget(client, "g", start_dump=lambda: server.compact(wait=False)).load(
        _tables(2000), lambda _: None
    )
    # Started, not awaited: the rewrite runs in the engine's child, the only one (the
    # automatic rewrites, given back meanwhile, start none beside it).
    info = wait_for_log_rewrite(client, 60)
    assert info is not None and info["aof_last_bgrewrite_status"] == "ok"
    assert int(str(info["aof_rewrites"])) == before + 1
    server.stop()
    restarted = EmbeddedServer(server.data_dir).ensure_running()
    try:
        rows = FalkorDBStore(restarted.client(), "g").read(
            "MATCH (a:Account) RETURN count(a) AS n"
        )
        assert rows == [{"n": 2000}]
    finally:
        restarted.stop()
