"""The embedded default: FalkorDB (Cypher over the Redis protocol) via the `falkordb` client.

A batch is ONE query: the claim, then each section as a unit `CALL {}` subquery. FalkorDB runs a
query atomically (an error rolls it back whole), and a client that dies mid-send applies nothing.
Not MULTI/EXEC: FalkorDB 4.16 asserts when it replays graph writes inside MULTI from its
append-only file, which would leave the data unrecoverable after a restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis
from falkordb import FalkorDB

from ringwatch.errors import BatchFailed, Invalid, Unavailable
from ringwatch.graph.labels import Label
from ringwatch.graph.queries import cypher
from ringwatch.graph.rows import Statement
from ringwatch.graph.store import CypherStore, Row

UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError, OSError)


class FalkorDBStore(CypherStore):
    engine = "falkordb"

    def __init__(self, client: redis.Redis, graph: str, *, read_timeout_ms: int = 60_000) -> None:
        self._redis = client
        self._db = FalkorDB(connection_pool=client.connection_pool)
        self._graph_name = graph
        self._graph = self._db.select_graph(graph)
        self._read_timeout_ms = read_timeout_ms

    def _text(self, query: str, params: Mapping[str, Any] | None) -> str:
        # The client's own parameter header (`CYPHER k=v ...`): values still travel as
        # parameters, never spliced into the query body.
        return str(self._graph._build_params_header(dict(params or {}))) + query

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

    def write(self, query: str, params: Mapping[str, Any] | None = None) -> None:
        try:
            self._graph.query(query, dict(params or {}))
        except UNREACHABLE as e:
            raise Unavailable(f"the embedded engine is unreachable: {e}") from e

    def _apply_statements(self, claim: Row, statements: list[Statement]) -> bool:
        query, params = compose_batch(claim, statements)
        try:
            result = self._graph.query(query, params)
        except UNREACHABLE as e:
            raise Unavailable(f"the embedded engine is unreachable: {e}") from e
        except redis.ResponseError as e:
            # The query was rolled back whole; retrying would fail the same way.
            raise BatchFailed(f"batch {claim['batch']} refused by the engine: {e}") from e
        return bool(result.result_set and result.result_set[0][0])

    def _create_unique(self, label: Label, prop: str) -> None:
        try:
            self._graph.query(cypher("schema/falkordb_index", LABEL=label, PROP=prop))
        except redis.ResponseError as e:
            if "already indexed" not in str(e):
                raise
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
        self._redis.close()


def _command(target: Any, *args: Any) -> Any:
    # redis-py's execute_command is untyped; one typed doorway keeps the rest strict.
    return target.execute_command(*args)


_CLAIM_RETURN = "RETURN claimed"


def compose_batch(claim: Row, statements: list[Statement]) -> tuple[str, Row]:
    """The claim and every section as one query; each section reads its own `$rows_<i>`."""
    head = cypher("write/claim_batch")
    if not head.endswith(_CLAIM_RETURN):
        raise ValueError("write/claim_batch must end with " + _CLAIM_RETURN)
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
