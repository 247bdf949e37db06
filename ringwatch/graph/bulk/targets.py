"""Where a bulk load goes: each engine's way of turning tables into its store files."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Protocol

import redis

from ringwatch.errors import Unavailable
from ringwatch.graph.bulk.falkordb import bulk_insert
from ringwatch.graph.bulk.graph import Tables
from ringwatch.graph.bulk.neo4j import Neo4jAdmin, offline_import, write_import_files
from ringwatch.graph.embedded import embedded_server, wait_for_log_rewrite
from ringwatch.graph.queries import cypher
from ringwatch.graph.store import GraphStore
from ringwatch.settings import Settings

Stage = Callable[[str], None]
Schema = Callable[[], None]


class BulkTarget(Protocol):
    engine: str

    def load(self, tables: Tables, stage: Stage, schema: Schema | None = None) -> dict[str, float]:
        """Create the graph from `tables` in an empty store, then its indexes and constraints
        (`schema`, once the data is in the engine); seconds per step."""
        ...


def timed_schema(schema: Schema | None, stage: Stage, seconds: dict[str, float]) -> None:
    """Run `schema` as the step named 'schema', its seconds in `seconds`."""
    if schema is None:
        return
    stage("schema")
    started = time.perf_counter()
    schema()
    seconds["schema"] = time.perf_counter() - started


def node_count(store: GraphStore) -> int:
    return int(store.read(cypher("read/count_all_nodes"))[0]["n"])


class FalkorDBTarget:
    """GRAPH.BULK into the embedded engine; `start_dump` starts the server's log rewrite, which
    makes the loaded graph the engine's start-up dump instead of a replay of the bulk commands.

    The rewrite is started, not waited for: the engine's clean stop rewrites the log too
    (`EmbeddedServer.stop`), and when it finds this one running it waits for it instead, so a
    load followed by a stop writes the 1.8 GB dump of a 1M world once, not twice (the load's
    own rewrite, then the stop's for the constraints the engine logs once built)."""

    engine = "falkordb"

    def __init__(
        self,
        client: redis.Redis,
        graph: str,
        start_dump: Callable[[], bool] | None = None,
    ) -> None:
        self._client = client
        self._graph = graph
        self._start_dump = start_dump

    def load(self, tables: Tables, stage: Stage, schema: Schema | None = None) -> dict[str, float]:
        seconds: dict[str, float] = {}
        stage("GRAPH.BULK")
        started = time.perf_counter()
        # The key holds only the schema of an empty store (checked by the caller): BEGIN
        # needs it gone, and the schema is made again once the data is in.
        self._client.delete(self._graph)
        with log_rewrites_held(self._client):
            bulk_insert(self._client, self._graph, tables)
            seconds["GRAPH.BULK"] = time.perf_counter() - started
            # Before the rewrite, so that the dump holds the schema instead of the log replaying
            # it at the next start. The engine builds each constraint in the background and
            # logs it once built: at 1M accounts that ends after the rewrite starts, and
            # waiting for it (~60 s) cost more than it saves (docs/performance.md).
            timed_schema(schema, stage, seconds)
            if self._start_dump is not None:
                # Started while automatic rewrites are still off: none can begin beside it.
                stage("start dump")
                started = time.perf_counter()
                self._start_dump()
                seconds["start dump"] = time.perf_counter() - started
        return seconds


AUTO_REWRITE = "auto-aof-rewrite-percentage"
REWRITE_WAIT_S = 600.0


@contextlib.contextmanager
def log_rewrites_held(client: redis.Redis) -> Iterator[None]:
    """No automatic log rewrite may start while GRAPH.BULK commands run.

    A 1M-account load hung for good here: the engine began an automatic rewrite (the log had
    doubled) while a bulk command was in flight, spent 27 s preparing the fork, and afterwards
    left every client postponed (Redis's busy-module-yield state never cleared, the bulk
    command's reply never came, PING unanswered, both processes idle). So automatic rewrites
    are off for the load, one already running is waited for, and the caller starts the log's
    rewrite itself once no command is in flight. The setting is restored, also when the load fails.
    """
    before = str(client.config_get(AUTO_REWRITE)[AUTO_REWRITE])
    client.config_set(AUTO_REWRITE, 0)
    try:
        _wait_for_rewrite(client)
        yield
    finally:
        client.config_set(AUTO_REWRITE, before)


def _wait_for_rewrite(client: redis.Redis, timeout_s: float = REWRITE_WAIT_S) -> None:
    if wait_for_log_rewrite(client, timeout_s) is None:
        raise Unavailable(
            f"the embedded engine is still rewriting its log after {timeout_s:.0f} s; "
            "run the load again once it has finished"
        )


class Neo4jTarget:
    """CSV files for neo4j-admin in a folder made under `work_dir` (the system's temporary
    folder by default), removed with the tool's log and report after a successful import; kept,
    to read why, when it fails."""

    engine = "neo4j"

    def __init__(self, admin: Neo4jAdmin, work_dir: Path | None = None) -> None:
        self._admin = admin
        self.work_dir = work_dir

    def load(self, tables: Tables, stage: Stage, schema: Schema | None = None) -> dict[str, float]:
        base = self.work_dir or Path(tempfile.gettempdir())
        base.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="ringwatch-load-", dir=base))
        seconds: dict[str, float] = {}
        stage("write CSV")
        started = time.perf_counter()
        files = write_import_files(tables, work / "csv")
        seconds["write CSV"] = time.perf_counter() - started
        seconds.update(offline_import(self._admin, files, work / "neo4j-admin.log", stage))
        timed_schema(schema, stage, seconds)
        # Only the CSV files used to go: every successful load left its folder behind.
        shutil.rmtree(work)
        return seconds


def open_target(settings: Settings) -> BulkTarget:
    """The configured engine's bulk path (Neo4j when RINGWATCH_NEO4J_URI is set)."""
    if settings.neo4j_uri:
        admin = Neo4jAdmin(
            settings.neo4j_admin,
            settings.neo4j_stop,
            settings.neo4j_start,
            settings.neo4j_database,
        )
        return Neo4jTarget(admin)
    server = embedded_server(settings.data_dir)
    return FalkorDBTarget(
        server.client(), settings.graph_name, start_dump=partial(server.compact, wait=False)
    )
