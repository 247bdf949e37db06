"""Neo4j 5 over Bolt with the official driver: the production system of record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import neo4j
from neo4j.exceptions import (
    AuthError,
    ClientError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from ringwatch.errors import Invalid, Unavailable
from ringwatch.graph.labels import Label
from ringwatch.graph.queries import cypher
from ringwatch.graph.rows import Statement
from ringwatch.graph.store import CypherStore, Row

UNREACHABLE = (ServiceUnavailable, SessionExpired, ConnectionError, OSError)


class Neo4jStore(CypherStore):
    engine = "neo4j"

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
                uri, auth=(user, password), max_transaction_retry_time=15.0
            )
        except ValueError as e:
            raise Invalid(f"bad Neo4j URI {uri!r}: {e}") from e

    def read(self, query: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        @neo4j.unit_of_work(timeout=self._read_timeout_s)
        def work(tx: neo4j.ManagedTransaction) -> list[Row]:
            return [record.data() for record in tx.run(query, dict(params or {}))]

        try:
            with self._driver.session(
                database=self._database, default_access_mode=neo4j.READ_ACCESS
            ) as session:
                return session.execute_read(work)
        except AuthError as e:
            raise Unavailable(f"Neo4j refused the credentials: {e.message}") from e
        except UNREACHABLE as e:
            raise Unavailable(f"Neo4j is unreachable: {e}") from e

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

    def _apply_statements(self, claim: Row, statements: list[Statement]) -> bool:
        def work(tx: neo4j.ManagedTransaction) -> bool:
            claimed = tx.run(cypher("write/claim_batch"), claim).single()
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
                # A concurrent attempt created the batch marker first and committed: the batch
                # is applied, by the other attempt.
                return False
            raise

    def _create_unique(self, label: Label, prop: str) -> None:
        query = cypher("schema/neo4j_unique", LABEL=label, PROP=prop)
        try:
            self._driver.execute_query(query, database_=self._database)
        except UNREACHABLE as e:
            raise Unavailable(f"Neo4j is unreachable: {e}") from e

    def clear(self) -> None:
        # CALL ... IN TRANSACTIONS needs an auto-commit transaction, hence session.run.
        with self._driver.session(database=self._database) as session:
            session.run(cypher("admin/clear_neo4j")).consume()

    def close(self) -> None:
        self._driver.close()
