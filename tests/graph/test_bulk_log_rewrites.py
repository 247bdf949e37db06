"""No automatic log rewrite may start while GRAPH.BULK commands are in flight (a 1M-account load
hung for good when one did: docs/performance.md, "The 1M load's hang"); the engine's own setting
comes back afterwards, also when the load fails. The load's own rewrite comes after the schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

from ringwatch.graph.bulk.graph import BulkGraph, Tables
from ringwatch.graph.bulk.targets import AUTO_REWRITE, FalkorDBTarget
from ringwatch.graph.embedded import EmbeddedServer
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

    def compact() -> bool:
        rewrites.append(str(client.config_get(AUTO_REWRITE)[AUTO_REWRITE]))
        return server.compact()

    FalkorDBTarget(client, "g", compact=compact).load(_tables(40), lambda _: None)

    assert client.seen and set(client.seen) == {"0"}
    assert rewrites == ["0"]  # the load's own rewrite, with none automatic beside it
    assert client.config_get(AUTO_REWRITE)[AUTO_REWRITE] == "73"
    assert client.execute_command("GRAPH.QUERY", "g", "MATCH (a:Account) RETURN count(a)")[1] == [
        [40]
    ]


def test_a_failed_load_gives_the_setting_back(server: EmbeddedServer) -> None:
    client = _client(server)
    client.config_set(AUTO_REWRITE, 73)

    def compact() -> bool:
        raise OSError("no space left on device")

    with pytest.raises(OSError, match="no space"):
        FalkorDBTarget(client, "g", compact=compact).load(_tables(5), lambda _: None)

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

    def compact() -> bool:
        steps.append("dump")
        return server.compact()

    FalkorDBTarget(client, "g", compact=compact).load(_tables(40), lambda _: None, schema)

    assert steps == ["schema", "dump"]
    rows = store.read("CALL db.constraints() YIELD label RETURN label")
    assert {row["label"] for row in rows} == {label.value for label in KEY_PROPERTY}
