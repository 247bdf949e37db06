"""Neo4j 5 over Bolt with the official driver: the production system of record."""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import neo4j
import neo4j.graph
import neo4j.spatial
import neo4j.time
from neo4j.exceptions import (
    AuthError,
    ClientError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from ringwatch.errors import (
    BadQuery,
    Forbidden,
    Invalid,
    Problem,
    QueryTimeout,
    RingwatchError,
    Unavailable,
)
from ringwatch.graph.labels import Label
from ringwatch.graph.queries import cypher
from ringwatch.graph.rows import Statement
from ringwatch.graph.store import CLAIM_ONE, AnalystResult, CypherStore, Row

T = TypeVar("T")

UNREACHABLE = (ServiceUnavailable, SessionExpired, ConnectionError, OSError)


class Neo4jStore(CypherStore):
    engine = "neo4j"
    subquery = "CALL () {"
    # Neo4j plans `id(a) >= $lo AND id(a) < $hi` as a label scan with a filter, not a seek, so
    # every export page scans its label (~0.07 s per 1M nodes). Yet small pages: Neo4j's cost
    # per row grows with the page (collect()'s lists in a 3 GB heap): 490k accounts in one page
    # took 12.7 engine CPU s, the same accounts in four pages 5.7 s; and a page is one read
    # transaction under the store's read timeout (60 s), which 500k-id pages overran at load 6.
    export_span = 125_000
    # A label scan per page costs the whole label: walk each label's own id extent only (a
    # bulk-loaded label is one stretch: 1M accounts in 1.02M ids of 8.95M), not every node id.
    export_by_label = True
    # Neo4j expands a typed relationship by walking the node's whole chain: one query for all
    # ten identifier link types walks it once instead of ten times.
    export_links_in_one = True

    def __init__(
        self,
        uri: str,
        user: str,
        password: str,
        database: str = "neo4j",
        *,
        read_timeout_s: float = 60.0,
    ) -> None:
        self._database = database
        self._read_timeout_s = read_timeout_s
        try:
            self._driver = neo4j.GraphDatabase.driver(
                uri,
                auth=(user, password),
                max_transaction_retry_time=15.0,
                # "Unknown label/property" is normal in a sparse schema (no ring suppressed yet,
                # no BLOCKED relation yet) and would flood the logs on every snapshot page.
                # DEPRECATION: the snapshot export pages by `id()`, deprecated in Neo4j 5 for
                # `elementId()`, whose strings cannot be range-paged or searchsorted.
                notifications_disabled_classifications=[
                    neo4j.NotificationDisabledClassification.UNRECOGNIZED,
                    neo4j.NotificationDisabledClassification.DEPRECATION,
                ],
            )
        except ValueError as e:
            raise Invalid(f"bad Neo4j URI {uri!r}: {e}") from e

    def read(self, query: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        # `execute_query` sends BEGIN together with RUN and PULL (a session's `execute_read`
        # waits for BEGIN's answer first): 2 round trips per read instead of 3, with the same
        # read routing, retries and timeout. Every decision on Neo4j makes one such read.
        # No bookmark manager: reads here never chain on earlier writes' bookmarks (and a
        # remembered one outlives a re-imported database, see `_create_unique`).
        try:
            records = self._driver.execute_query(
                neo4j.Query(query, timeout=self._read_timeout_s),
                dict(params or {}),
                database_=self._database,
                routing_=neo4j.RoutingControl.READ,
                bookmark_manager_=None,
            ).records
        except AuthError as e:
            raise Unavailable(f"Neo4j refused the credentials: {e.message}") from e
        except UNREACHABLE as e:
            raise Unavailable(f"Neo4j is unreachable: {e}") from e
        return [record.data() for record in records]

    def _read_session(self, work: Callable[[neo4j.ManagedTransaction], T]) -> T:
        """`work` in a read transaction of its own session, with the store's errors."""
        try:
            with self._driver.session(
                database=self._database, default_access_mode=neo4j.READ_ACCESS
            ) as session:
                return session.execute_read(work)
        except AuthError as e:
            raise Unavailable(f"Neo4j refused the credentials: {e.message}") from e
        except UNREACHABLE as e:
            raise Unavailable(f"Neo4j is unreachable: {e}") from e

    def read_columns(
        self, query: str, params: Mapping[str, Any], ints: tuple[str, ...]
    ) -> dict[str, Any]:
        """The one row of an export page as the lists the Bolt decoder built, untouched:
        `Record.data()` (what `read` returns) walks every value of every list again in Python
        to convert graph types, which an export never returns; at 1M accounts that walk was
        ~60% of the client's 140-170 CPU s (py-spy, docs/performance.md)."""

        @neo4j.unit_of_work(timeout=self._read_timeout_s)
        def work(tx: neo4j.ManagedTransaction) -> dict[str, Any]:
            result = tx.run(query, dict(params))
            keys = result.keys()
            record = result.single(strict=False)
            # A Record is a tuple of the decoded values: iterating it converts nothing.
            return {} if record is None else dict(zip(keys, tuple(record), strict=True))

        return self._read_session(work)

    def write(self, query: str, params: Mapping[str, Any] | None = None) -> None:
        def work(tx: neo4j.ManagedTransaction) -> None:
            tx.run(query, dict(params or {})).consume()

        try:
            with self._driver.session(database=self._database) as session:
                session.execute_write(work)
        except AuthError as e:
            raise Unavailable(f"Neo4j refused the credentials: {e.message}") from e
        except (*UNREACHABLE, TransientError) as e:
            raise Unavailable(f"Neo4j write failed, will retry: {e}") from e

    def _apply_statements(
        self, claim: Row, statements: list[Statement], claim_query: str = CLAIM_ONE
    ) -> bool:
        def work(tx: neo4j.ManagedTransaction) -> bool:
            claimed = tx.run(cypher(claim_query), claim).single()
            if not claimed or not claimed["claimed"]:
                return False
            # One transaction: the marker and the sections commit together or not at all.
            for statement in statements:
                tx.run(statement.query, {**statement.params, "rows": statement.rows}).consume()
            return True

        try:
            with self._driver.session(database=self._database) as session:
                return session.execute_write(work)
        except AuthError as e:
            raise Unavailable(f"Neo4j refused the credentials: {e.message}") from e
        except (*UNREACHABLE, TransientError) as e:
            raise Unavailable(f"Neo4j write failed, will retry: {e}") from e
        except ClientError as e:
            if "ConstraintValidationFailed" in (e.code or ""):
                if f"`{Label.BATCH.value}`" in (e.message or ""):
                    # A concurrent attempt created this batch's marker first and committed:
                    # the batch is applied, by the other attempt.
                    return False
                # Any other conflict means the batch was NOT applied: retry it whole.
                raise Unavailable(f"write conflict, will retry: {e.message}") from e
            raise

    def _create_unique(self, label: Label, prop: str) -> None:
        query = cypher("schema/neo4j_unique", LABEL=label, PROP=prop)
        try:
            # No driver-wide bookmarks: after `ringwatch load` imports the database afresh, its
            # transaction ids restart, and a remembered bookmark would wait on one that never
            # comes (BookmarkTimeout). Sessions here never chain bookmarks either.
            self._driver.execute_query(query, database_=self._database, bookmark_manager_=None)
        except UNREACHABLE as e:
            raise Unavailable(f"Neo4j is unreachable: {e}") from e

    def clear(self) -> None:
        # CALL ... IN TRANSACTIONS needs an auto-commit transaction, hence session.run.
        with self._driver.session(database=self._database) as session:
            session.run(cypher("admin/clear_neo4j_relationships")).consume()
            session.run(cypher("admin/clear_neo4j_nodes")).consume()

    def close(self) -> None:
        self._driver.close()

    # -- analysts --------------------------------------------------------------------------------
    def analyst_read(
        self, query: str, params: Mapping[str, Any] | None, *, timeout_s: float, row_cap: int
    ) -> AnalystResult:
        """An analyst's query in a READ session: the server refuses any write, the transaction
        timeout stops it server-side, and the result is pulled only up to the row cap + 1."""

        @neo4j.unit_of_work(timeout=timeout_s)
        def work(tx: neo4j.ManagedTransaction) -> tuple[list[str], list[list[Any]], bool]:
            result = tx.run(query, dict(params or {}))
            columns = list(result.keys())
            rows: list[list[Any]] = []
            for record in result:
                if len(rows) == row_cap:
                    # Leaving unread records behind: the driver discards them server-side
                    # instead of pulling them.
                    return columns, rows, True
                rows.append([_json_safe(value) for value in record.values()])
            return columns, rows, False

        started = time.perf_counter()
        try:
            with self._driver.session(
                database=self._database,
                default_access_mode=neo4j.READ_ACCESS,
                # One pull of at most cap + 1 records, so the server produces no more than that.
                fetch_size=min(row_cap + 1, 10_000),
            ) as session:
                columns, rows, truncated = session.execute_read(work)
        except AuthError as e:
            raise Unavailable(f"Neo4j refused the credentials: {e.message}") from e
        except UNREACHABLE as e:
            raise Unavailable(f"Neo4j is unreachable: {e}") from e
        except Neo4jError as e:
            raise _analyst_error(e, timeout_s) from e
        return AnalystResult(
            columns=columns,
            rows=rows,
            truncated=truncated,
            elapsed_ms=round((time.perf_counter() - started) * 1000, 3),
            engine=self.engine,
        )


def _analyst_error(e: Neo4jError, timeout_s: float) -> RingwatchError | Neo4jError:
    code = e.code or ""
    message = e.message or str(e)
    if "TransactionTimedOut" in code or code.endswith("Transaction.Terminated"):
        return QueryTimeout(
            f"the query ran past its {timeout_s:g} s limit",
            [Problem(field="query", reason=f"timed out after {timeout_s:g} s")],
        )
    if code == "Neo.ClientError.Statement.AccessMode" or code.startswith(
        "Neo.ClientError.Security."
    ):
        return Forbidden(f"refused by the engine: {message}", [Problem("query", message)])
    if code.startswith("Neo.ClientError.") or code.endswith("TransactionStartFailed"):
        # TransactionStartFailed: CALL { } IN TRANSACTIONS inside the managed transaction.
        return BadQuery(message, [Problem(field="query", reason=message)])
    return e


def _json_safe(value: Any) -> Any:
    """Driver values as JSON: graph objects by element id, temporal values as ISO 8601."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, neo4j.graph.Node):
        return {
            "id": value.element_id,
            "labels": sorted(value.labels),
            "properties": {k: _json_safe(v) for k, v in value.items()},
        }
    if isinstance(value, neo4j.graph.Relationship):
        return {
            "id": value.element_id,
            "type": value.type,
            # `is not None`: a Node is falsy when it carries no properties.
            "start": value.start_node.element_id if value.start_node is not None else None,
            "end": value.end_node.element_id if value.end_node is not None else None,
            "properties": {k: _json_safe(v) for k, v in value.items()},
        }
    if isinstance(value, neo4j.graph.Path):
        return {
            "nodes": [_json_safe(n) for n in value.nodes],
            "relationships": [_json_safe(r) for r in value.relationships],
        }
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, neo4j.spatial.Point):
        return {"srid": value.srid, "coordinates": [float(c) for c in value]}
    if isinstance(
        value, neo4j.time.Date | neo4j.time.Time | neo4j.time.DateTime | neo4j.time.Duration
    ):
        return value.iso_format()
    return str(value)
