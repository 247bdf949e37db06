"""The embedded default: FalkorDB (Cypher over the Redis protocol) via the `falkordb` client.

A batch is ONE query: the claim, then each section as a unit `CALL {}` subquery. FalkorDB runs a
query atomically (an error rolls it back whole), and a client that dies mid-send applies nothing.
Not MULTI/EXEC: FalkorDB 4.16 asserts when it replays graph writes inside MULTI from its
append-only file, which would leave the data unrecoverable after a restart.
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import hiredis
import numpy as np
import orjson
import redis
from falkordb import Edge, FalkorDB, Node, Path
from falkordb.helpers import stringify_param_value
from falkordb.query_result import QueryResult

from ringwatch.errors import (
    BadQuery,
    BatchFailed,
    Forbidden,
    Invalid,
    Problem,
    QueryTimeout,
    RingwatchError,
    Unavailable,
)
from ringwatch.graph.labels import Label
from ringwatch.graph.loop_redis import LoopRedis
from ringwatch.graph.queries import cypher
from ringwatch.graph.readonly import projection
from ringwatch.graph.rows import Statement
from ringwatch.graph.store import CLAIM_ONE, AnalystResult, CypherStore, LiveFacts, Row
from ringwatch.identity import IdentifierKind

_NO_INTS = np.zeros(0, dtype=np.int64)
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError, OSError)
# How long a writer may hold the graph's write lock before it expires on its own: a process
# that dies holding it stalls the other writers at most this long. A batch takes seconds.
WRITE_LOCK_S = 300


class FalkorDBStore(CypherStore):
    engine = "falkordb"

    def __init__(self, client: redis.Redis, graph: str, *, read_timeout_ms: int = 60_000) -> None:
        self._redis = client
        self._db = FalkorDB(connection_pool=client.connection_pool)
        self._graph_name = graph
        self._graph = self._db.select_graph(graph)
        self._read_timeout_ms = read_timeout_ms
        self._analyst_clients: dict[float, redis.Redis] = {}
        self._local_writes = threading.Lock()
        # The decision's graph read from the event loop (None: a connection it cannot open).
        self._loop_redis = LoopRedis.like(client)

    def _text(self, query: str, params: Mapping[str, Any] | None) -> str:
        # The parameter header (`CYPHER k=v ...`): values still travel as parameters, never
        # spliced into the query body.
        return params_header(params) + query

    def read(self, query: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        try:
            result = self._graph.ro_query(query, dict(params or {}), timeout=self._read_timeout_ms)
        except UNREACHABLE as e:
            raise Unavailable(f"the embedded engine is unreachable: {e}") from e
        except redis.ResponseError as e:
            raise Invalid(f"query failed: {e}") from e
        names = [h[1] if isinstance(h, list | tuple) else h for h in result.header]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
        return [dict(zip(names, row, strict=True)) for row in result.result_set]

    def read_columns(
        self, query: str, params: Mapping[str, Any], ints: tuple[str, ...]
    ) -> dict[str, Any]:
        """A one-row query of list columns in the engine's verbose reply, where a list comes as
        ONE string ('[1, 2, 3]'): integers parse in C (`np.fromstring`), strings by one split,
        instead of the client's Python call per value (most of a snapshot's time, profiled).
        Verbose strings are unquoted, so a string column whose split does not give one item per
        row (a value holding ', ') falls back to the client's exact parse."""
        try:
            raw = _command(
                self._redis,
                "GRAPH.RO_QUERY",
                self._graph_name,
                self._text(query, params),
                "timeout",
                self._read_timeout_ms,
            )
        except UNREACHABLE as e:
            raise Unavailable(f"the embedded engine is unreachable: {e}") from e
        except redis.ResponseError as e:
            raise Invalid(f"query failed: {e}") from e
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in raw[0]]
        if not raw[1]:
            return {}
        texts = [v.decode() if isinstance(v, bytes) else str(v) for v in raw[1][0]]
        inner = {n: t[1:-1] for n, t in zip(names, texts, strict=True)}
        out: dict[str, Any] = {
            n: np.fromstring(inner[n], dtype=np.int64, sep=",") if inner[n] else _NO_INTS
            for n in ints
        }
        rows = {len(v) for v in out.values()}
        if len(rows) != 1:
            return self.read(query, params)[0]
        n_rows = rows.pop()
        for name in names:
            if name in out:
                continue
            items = inner[name].split(", ") if n_rows else []
            if len(items) != n_rows:
                return self.read(query, params)[0]
            out[name] = items
        return out

    async def live_facts_on_loop(
        self,
        account_id: str,
        keys: Mapping[IdentifierKind, Iterable[str]],
        subnet: str | None,
        cap: int,
        *,
        own: bool = True,
    ) -> LiveFacts | None:
        """The decision's one graph read from the event loop (`LoopRedis`: the engine speaks
        RESP), so a decision on this engine needs no pool thread for it: the same query, the
        same compact reply parsed by the client's own `QueryResult`, the same errors as `read`."""
        loop_redis = self._loop_redis
        if loop_redis is None:
            return None
        query, params = self._live_facts_query(account_id, keys, subnet, cap, own=own)
        command = (
            "GRAPH.RO_QUERY",
            self._graph_name,
            self._text(query, params),
            "--compact",
            "timeout",
            self._read_timeout_ms,
        )
        try:
            reply = (await loop_redis.execute([command]))[0]
        except UNREACHABLE as e:
            raise Unavailable(f"the embedded engine is unreachable: {e}") from e
        if isinstance(reply, redis.ResponseError):
            raise Invalid(f"query failed: {reply}")
        if isinstance(reply, Exception):
            raise Unavailable(f"the embedded engine is unreachable: {reply}")
        if reply and isinstance(reply[-1], hiredis.ReplyError):
            raise Invalid(f"query failed: {reply[-1]}")
        result = QueryResult(self._graph, reply)
        names = [h[1] if isinstance(h, list | tuple) else h for h in result.header]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
        row = dict(zip(names, result.result_set[0], strict=True))
        return self._live_facts_of(row, tuple(keys))

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """One write query on the graph at a time, across threads and processes.

        Two writers applying batches at once (`ingest --writers 2`) left a few identifier
        edges twice in the graph, about one run in six under load (the 2-writer case of
        tests/services/test_ingest.py); one at a time, none. Threads queue on a local lock;
        one per process then takes a lock key on the engine itself. The engine runs one
        write at a time anyway, so little parallelism is lost."""
        with self._local_writes:
            lock = self._redis.lock(
                f"ringwatch:write-lock:{self._graph_name}", timeout=WRITE_LOCK_S, sleep=0.002
            )
            try:
                lock.acquire()
            except UNREACHABLE as e:
                raise Unavailable(f"the embedded engine is unreachable: {e}") from e
            try:
                yield
            finally:
                with contextlib.suppress(redis.exceptions.LockError, *UNREACHABLE):
                    lock.release()

    def write(self, query: str, params: Mapping[str, Any] | None = None) -> None:
        try:
            with self._writing():
                _command(self._redis, "GRAPH.QUERY", self._graph_name, self._text(query, params))
        except UNREACHABLE as e:
            raise Unavailable(f"the embedded engine is unreachable: {e}") from e

    def _apply_statements(
        self, claim: Row, statements: list[Statement], claim_query: str = CLAIM_ONE
    ) -> bool:
        query, params = compose_batch(claim, statements, claim_query)
        try:
            with self._writing():
                reply = _command(
                    self._redis, "GRAPH.QUERY", self._graph_name, self._text(query, params)
                )
        except UNREACHABLE as e:
            raise Unavailable(f"the embedded engine is unreachable: {e}") from e
        except redis.ResponseError as e:
            # The query was rolled back whole; retrying would fail the same way.
            which = claim.get("batch") or [b["id"] for b in claim.get("batches", [])]
            raise BatchFailed(f"batch {which} refused by the engine: {e}") from e
        # Verbose reply: [header, rows, stats]; the one row holds `claimed`.
        rows = reply[1] if len(reply) == 3 else []
        return bool(rows and _truthy(rows[0][0]))

    def _create_index(self, label: Label, prop: str) -> None:
        try:
            self._graph.query(cypher("schema/falkordb_index", LABEL=label, PROP=prop))
        except redis.ResponseError as e:
            if "already indexed" not in str(e):
                raise

    def _create_unique(self, label: Label, prop: str) -> None:
        # FalkorDB needs the index before the constraint.
        self._create_index(label, prop)
        try:
            _command(
                self._redis,
                "GRAPH.CONSTRAINT",
                "CREATE",
                self._graph_name,
                "UNIQUE",
                "NODE",
                label.value,
                "PROPERTIES",
                "1",
                prop,
            )
        except redis.ResponseError as e:
            if "already exists" not in str(e).lower():
                raise

    def clear(self) -> None:
        try:
            self._graph.delete()
        except redis.ResponseError as e:
            if "empty key" not in str(e).lower() and "invalid graph" not in str(e).lower():
                raise

    def close(self) -> None:
        for analyst_client in self._analyst_clients.values():
            analyst_client.close()
        self._redis.close()

    def query_plan(self, query: str, params: Mapping[str, Any] | None = None) -> list[str]:
        """The plan FalkorDB would run `query` with (GRAPH.EXPLAIN: nothing runs), one operator
        a line, indented by depth: `Operator | details`."""
        reply = _command(
            self._redis, "GRAPH.EXPLAIN", self._graph_name, self._text(query, dict(params or {}))
        )
        return [
            (line.decode() if isinstance(line, bytes) else str(line)).rstrip() for line in reply
        ]

    # -- analysts --------------------------------------------------------------------------------
    def analyst_read(
        self, query: str, params: Mapping[str, Any] | None, *, timeout_s: float, row_cap: int
    ) -> AnalystResult:
        """An analyst's query through GRAPH.RO_QUERY (the engine refuses writes) with a server-side
        timeout, capped at `row_cap` rows.

        FalkorDB sends a whole result in one reply, so the cap must be applied inside the query:
        one ending in a top-level RETURN runs as `CALL { <query> } RETURN * LIMIT cap + 1`, and
        FalkorDB's lazy execution then stops producing rows at the limit. Only a bare procedure
        call (no RETURN; the guard admits schema procedures only, whose answers are schema-sized)
        or a query the engine cannot nest in CALL { } runs as written and is capped afterwards.
        """
        graph = self._analyst_graph(timeout_s)
        args = dict(params or {})
        timeout_ms = max(1, math.ceil(timeout_s * 1000))
        shape = projection(query)
        wrapped = shape.returns
        text = f"CALL {{\n{query}\n}}\nRETURN * LIMIT {row_cap + 1}" if wrapped else query
        started = time.perf_counter()
        try:
            result = graph.ro_query(text, args, timeout=timeout_ms)
        except UNREACHABLE as e:
            raise Unavailable(f"the embedded engine is unreachable: {e}") from e
        except redis.ResponseError as e:
            error = _analyst_error(str(e), timeout_s)
            if not wrapped or not isinstance(error, BadQuery):
                raise error from e
            # Report the query's own error (with its own line and column), not the wrapper's.
            own = self._compile_error(query, args)
            if own is not None:
                raise _analyst_error(own, timeout_s) from e
            if self._compile_error(text, args) is None:
                raise error from e  # a run-time error: the same with or without the wrapper
            wrapped = False
            try:
                result = graph.ro_query(query, args, timeout=timeout_ms)
            except redis.ResponseError as e2:
                raise _analyst_error(str(e2), timeout_s) from e2
        elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
        names = [h[1] if isinstance(h, list | tuple) else h for h in result.header]
        columns = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
        rows = [[_json_safe(v) for v in row] for row in result.result_set[:row_cap]]
        if wrapped and shape.columns and _same_names(shape.columns, columns):
            # RETURN * orders columns by name; put them back in the query's own order.
            order = [columns.index(c) for c in shape.columns]
            columns = list(shape.columns)
            rows = [[row[i] for i in order] for row in rows]
        return AnalystResult(
            columns=columns,
            rows=rows,
            truncated=len(result.result_set) > row_cap,
            elapsed_ms=elapsed_ms,
            engine=self.engine,
        )

    def _analyst_graph(self, timeout_s: float) -> Any:
        # The shared client's socket timeout (redis-py's default: 5 s) would cut a long analyst
        # query short and leave the engine running it; this client waits for the server-side
        # timeout, plus a margin for a wedged server.
        socket_timeout = timeout_s + 5.0
        client = self._analyst_clients.get(socket_timeout)
        if client is None:
            pool = self._redis.connection_pool
            client = redis.Redis(
                connection_pool=redis.ConnectionPool(
                    connection_class=pool.connection_class,
                    **{**pool.connection_kwargs, "socket_timeout": socket_timeout},
                )
            )
            self._analyst_clients[socket_timeout] = client
        return FalkorDB(connection_pool=client.connection_pool).select_graph(self._graph_name)

    def _compile_error(self, query: str, params: Row) -> str | None:
        """The engine's parse or plan error for `query` (GRAPH.EXPLAIN runs nothing), or None."""
        try:
            _command(self._redis, "GRAPH.EXPLAIN", self._graph_name, self._text(query, params))
        except redis.ResponseError as e:
            return str(e)
        return None


def cypher_literal(value: Any) -> str:
    """A parameter value as a Cypher literal, encoded in C: JSON is Cypher's literal syntax but
    for quoted map keys, so each key's `"key":` becomes `key:` by one `bytes.replace`. Only a key
    can match: inside a JSON string every quote is escaped, so `key":` never occurs in a value.
    Keys are taken from the first row (rows of one statement share theirs); if any `":` is left
    (a key not seen there, a nested map, or a value holding `":`), the client's own encoder
    does it value by value. That encoder was over a third of the write side's Python."""
    first = value[0] if isinstance(value, list) and value else value
    keys = list(first) if isinstance(first, dict) else []
    text = orjson.dumps(value)
    for key in keys:
        if not isinstance(key, str) or not _IDENTIFIER.fullmatch(key):
            break
        raw = key.encode()
        text = text.replace(b'"' + raw + b'":', raw + b":")
    if b'":' in text:
        return str(stringify_param_value(value))
    return text.decode()


def params_header(params: Mapping[str, Any] | None) -> str:
    if not params:
        return ""
    parts = ["CYPHER"]
    for key, value in params.items():
        if not _IDENTIFIER.fullmatch(key):
            raise ValueError(f"not a Cypher parameter name: {key!r}")
        parts.append(f"{key}={cypher_literal(value)}")
    return " ".join(parts) + " "


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _truthy(value: Any) -> bool:
    if isinstance(value, bytes):
        return value.lower() == b"true"
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _command(target: Any, *args: Any) -> Any:
    # redis-py's execute_command is untyped; one typed doorway keeps the rest strict.
    return target.execute_command(*args)


_CLAIM_RETURN = "RETURN claimed"


def compose_batch(
    claim: Row, statements: list[Statement], claim_query: str = CLAIM_ONE
) -> tuple[str, Row]:
    """The claim and every section as one query; each section reads its own `$rows_<i>`."""
    head = cypher(claim_query)
    if not head.endswith(_CLAIM_RETURN):
        raise ValueError(f"{claim_query} must end with " + _CLAIM_RETURN)
    parts = [head.removesuffix(_CLAIM_RETURN).rstrip() + " WHERE claimed"]
    params: Row = dict(claim)
    for i, statement in enumerate(statements):
        name = f"rows_{i}"
        body = statement.query.replace("$rows", "$" + name)
        parts.append(f"CALL {{ WITH claimed\n{body}\n}}")
        params[name] = statement.rows
        for key, value in statement.params.items():
            if params.setdefault(key, value) != value:
                raise ValueError(f"statements of one batch disagree on ${key}")
    parts.append(_CLAIM_RETURN)
    return "\n".join(parts), params


def _analyst_error(message: str, timeout_s: float) -> RingwatchError:
    if "timed out" in message.lower():
        return QueryTimeout(
            f"the query ran past its {timeout_s:g} s limit",
            [Problem(field="query", reason=f"timed out after {timeout_s:g} s")],
        )
    if "read-only queries" in message:  # "graph.RO_QUERY is to be executed only on read-only..."
        return Forbidden(f"refused by the engine: {message}", [Problem("query", message)])
    return BadQuery(message, [Problem(field="query", reason=message)])


def _same_names(expected: list[str], got: list[str]) -> bool:
    return len(set(expected)) == len(expected) and sorted(expected) == sorted(got)


def _json_safe(value: Any) -> Any:
    """Client values as JSON, in the same shape as the Neo4j store's (ids as strings)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Node):
        return {
            "id": str(value.id),
            "labels": sorted(value.labels or []),
            "properties": {k: _json_safe(v) for k, v in value.properties.items()},
        }
    if isinstance(value, Edge):
        return {
            "id": str(value.id),
            "type": value.relation,
            "start": _node_id(value.src_node),
            "end": _node_id(value.dest_node),
            "properties": {k: _json_safe(v) for k, v in value.properties.items()},
        }
    if isinstance(value, Path):
        return {
            "nodes": [_json_safe(n) for n in value.nodes()],
            "relationships": [_json_safe(e) for e in value.edges()],
        }
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)


def _node_id(node: Node | int) -> str:
    return str(node.id if isinstance(node, Node) else node)
