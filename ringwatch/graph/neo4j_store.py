"""Neo4j 5 over Bolt with the official driver: the production system of record."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import math
import time
from collections.abc import Callable, Iterable, Mapping
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
from ringwatch.graph.store import CLAIM_ONE, AnalystResult, CypherStore, LiveFacts, Row
from ringwatch.identity import IdentifierKind

T = TypeVar("T")

UNREACHABLE = (ServiceUnavailable, SessionExpired, ConnectionError, OSError)

DRIVER_CONFIG: dict[str, Any] = {
    "max_transaction_retry_time": 15.0,
    # "Unknown label/property" is normal in a sparse schema (no ring suppressed yet, no BLOCKED
    # relation yet) and would flood the logs on every snapshot page. DEPRECATION: the snapshot
    # export pages by `id()`, deprecated in Neo4j 5 for `elementId()`, whose strings cannot be
    # range-paged or searchsorted.
    "notifications_disabled_classifications": [
        neo4j.NotificationDisabledClassification.UNRECOGNIZED,
        neo4j.NotificationDisabledClassification.DEPRECATION,
    ],
}

# How long `Neo4jStore.read` retries a read that failed on the way (the driver's managed
# transactions retry for `max_transaction_retry_time`, the same 15 s), and its backoff.
READ_RETRY_S = 15.0
READ_RETRY_FIRST_S = 0.1
READ_RETRY_MAX_DELAY_S = 2.0


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
        self._uri = uri
        self._auth = (user, password)
        try:
            self._driver = neo4j.GraphDatabase.driver(uri, auth=self._auth, **DRIVER_CONFIG)
        except ValueError as e:
            raise Invalid(f"bad Neo4j URI {uri!r}: {e}") from e
        # The decision's read from the event loop (`live_facts_on_loop`): an async driver of the
        # loop it was opened on, replaced when another loop asks.
        self._loop_driver: tuple[asyncio.AbstractEventLoop, neo4j.AsyncDriver] | None = None

    def read(self, query: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        # An auto-commit transaction in a READ session: RUN and PULL go out together and the
        # answer comes back in one round trip, where a managed transaction (`execute_query`,
        # `execute_read`) adds BEGIN and COMMIT: two round trips and two more messages to
        # decode. Every decision on Neo4j makes one such read, so this is most of the driver's
        # CPU per decision (docs/performance.md, "Decisions"). The server still refuses a write
        # in a READ session and stops the read at its timeout. What `execute_query` added, its
        # retries, is kept below: a read is idempotent, so a failure before its answer was
        # whole is retried with backoff for up to READ_RETRY_S. No bookmarks: reads here never
        # chain on earlier writes' (and a remembered one outlives a re-imported database, see
        # `_create_unique`).
        statement = neo4j.Query(query, timeout=self._read_timeout_s)
        values = dict(params or {})
        backoff = _ReadBackoff()
        while True:
            try:
                with self._driver.session(
                    database=self._database, default_access_mode=neo4j.READ_ACCESS
                ) as session:
                    return [record.data() for record in session.run(statement, values)]
            except (AuthError, *UNREACHABLE, TransientError) as e:
                time.sleep(backoff.after(e))

    async def live_facts_on_loop(
        self,
        account_id: str,
        keys: Mapping[IdentifierKind, Iterable[str]],
        subnet: str | None,
        cap: int,
        *,
        own: bool = True,
    ) -> LiveFacts | None:
        """The decision's one graph read from the event loop through the driver's async API:
        the decision then takes no pool thread (its features and rules run on the loop, as on
        the embedded engine), where a thread cost a hand-off each way and the GIL passed back
        and forth between it and the loop. The same query, the same read as `read`."""
        query, params = self._live_facts_query(account_id, keys, subnet, cap, own=own)
        rows = await self._read_on_loop(query, params)
        return self._live_facts_of(rows[0], tuple(keys))

    async def _read_on_loop(self, query: str, params: Mapping[str, Any]) -> list[Row]:
        """`read` from the running event loop: the same auto-commit READ transaction, timeout,
        retries and errors, for a query whose values are plain (no nodes, relationships,
        paths or temporal values: they come back as the driver decoded them).

        The whole read has a deadline on this side too: the read timeout plus the retries'
        budget, when `read` would have given up at the latest. The server stops a query at
        the timeout, but a server that stopped answering (a host gone without closing its
        connections) cannot. What else would end the wait depends on the server's settings:
        its `connection.recv_timeout_seconds` hint (120 s with Neo4j's defaults), or nothing
        but TCP's keep-alive (hours) on a server that keeps keep-alives to streaming results
        (`server.bolt.connection_keep_alive_for_requests=STREAMING`)."""
        driver = self._driver_of_loop()
        statement = neo4j.Query(query, timeout=self._read_timeout_s)
        values = dict(params)
        backoff = _ReadBackoff()
        deadline_s = self._read_timeout_s + READ_RETRY_S
        try:
            async with asyncio.timeout(deadline_s):
                while True:
                    try:
                        async with driver.session(
                            database=self._database, default_access_mode=neo4j.READ_ACCESS
                        ) as session:
                            result = await session.run(statement, values)
                            keys = result.keys()
                            # A Record is a tuple of the decoded values; `data()` would walk
                            # every nested value again to convert graph types, which the
                            # live-facts query never returns (maps, lists and scalars only).
                            return [dict(zip(keys, record, strict=True)) async for record in result]
                    except (AuthError, *UNREACHABLE, TransientError) as e:
                        await asyncio.sleep(backoff.after(e))
        except TimeoutError as e:
            raise Unavailable(f"Neo4j did not answer a read within {deadline_s:g} s") from e

    def _driver_of_loop(self) -> neo4j.AsyncDriver:
        """The async driver of the running loop. An async driver's connections belong to the
        loop that opened them, so a driver of another loop is closed there (if that loop still
        runs) and a new one opened."""
        loop = asyncio.get_running_loop()
        held = self._loop_driver
        if held is not None and held[0] is loop:
            return held[1]
        if held is not None:
            _close_on_its_loop(*held, wait=False)
        driver = neo4j.AsyncGraphDatabase.driver(self._uri, auth=self._auth, **DRIVER_CONFIG)
        self._loop_driver = (loop, driver)
        return driver

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
        self._schema(cypher("schema/neo4j_unique", LABEL=label, PROP=prop))

    def _create_index(self, label: Label, prop: str) -> None:
        self._schema(cypher("schema/neo4j_index", LABEL=label, PROP=prop))

    def _schema(self, query: str) -> None:
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
        held, self._loop_driver = self._loop_driver, None
        if held is not None:
            _close_on_its_loop(*held, wait=True)

    def query_plan(self, query: str, params: Mapping[str, Any] | None = None) -> list[str]:
        """The plan Neo4j would run `query` with (EXPLAIN: nothing runs), one operator a line,
        indented by depth: `Operator | details`."""

        def work(tx: neo4j.ManagedTransaction) -> neo4j.ResultSummary:
            return tx.run(f"EXPLAIN {query}", dict(params or {})).consume()

        summary = self._read_session(work)
        lines: list[str] = []

        def walk(step: Mapping[str, Any], depth: int) -> None:
            operator = str(step["operatorType"]).split("@", 1)[0]
            details = step.get("args", {}).get("Details", "")
            lines.append(f"{'    ' * depth}{operator} | {details}")
            for child in step.get("children", []):
                walk(child, depth + 1)

        if summary.plan is not None:
            walk(summary.plan, 0)
        return lines

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


class _ReadBackoff:
    """When a failed read is sent again (`Neo4jStore.read`): a lost or refused connection, or a
    transient error the server marks retryable, after 0.1 s, 0.2 s, ... (at most 2 s apart)
    for up to READ_RETRY_S; anything else, and a retry that would pass that budget, raises."""

    def __init__(self) -> None:
        self._started = time.monotonic()
        self._delay = READ_RETRY_FIRST_S

    def after(self, error: Exception) -> float:
        """Seconds to wait before the next attempt after `error`, or the error to raise."""
        if isinstance(error, AuthError):
            raise Unavailable(f"Neo4j refused the credentials: {error.message}") from error
        if isinstance(error, Neo4jError) and not error.is_retryable():
            raise error
        if time.monotonic() - self._started + self._delay > READ_RETRY_S:
            raise Unavailable(f"Neo4j is unreachable: {error}") from error
        delay, self._delay = self._delay, min(self._delay * 2, READ_RETRY_MAX_DELAY_S)
        return delay


_CLOSING: set[asyncio.Task[None]] = set()


def _close_on_its_loop(
    loop: asyncio.AbstractEventLoop, driver: neo4j.AsyncDriver, *, wait: bool
) -> None:
    """Close an async driver from code that may not run on its loop: its connections can only
    be closed there. A loop still running in another thread closes it (waited for up to 5 s
    with `wait`), the loop's own thread schedules it, a stopped loop runs it; a closed loop
    took the connections' transports with it, and nothing is left to do."""
    if loop.is_closed():
        return
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        # The loop keeps only a weak reference to a task: hold it until it is done.
        task = loop.create_task(driver.close())
        _CLOSING.add(task)
        task.add_done_callback(_CLOSING.discard)
    elif loop.is_running():
        future = asyncio.run_coroutine_threadsafe(driver.close(), loop)
        if wait:
            with contextlib.suppress(Exception):
                future.result(timeout=5.0)
    elif running is None:
        with contextlib.suppress(Exception):
            loop.run_until_complete(driver.close())


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
