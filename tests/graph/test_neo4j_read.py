"""Neo4jStore.read keeps what a read transaction promised when it moved to an auto-commit
transaction (RUN and PULL in one round trip): the read-only access mode, the store's read
timeout, and the driver's retries of a read that failed on the way."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from neo4j.exceptions import ClientError, ServiceUnavailable

from ringwatch.errors import Unavailable
from ringwatch.graph import neo4j_store
from ringwatch.graph.neo4j_store import Neo4jStore
from tests.conftest import NEO4J_PASSWORD, NEO4J_URI, _missing

pytestmark = pytest.mark.neo4j

# Far more rows than 0.5 s of a server's work, and no index or cache can shortcut a filter
# that keeps none of them.
SLOW = "UNWIND range(1, $n) AS x WITH x WHERE x < 0 RETURN count(x) AS n"


@pytest.fixture
def store() -> Iterator[Neo4jStore]:
    if not NEO4J_URI:
        _missing("Neo4j")
    s = Neo4jStore(str(NEO4J_URI), "neo4j", NEO4J_PASSWORD, read_timeout_s=0.5)
    yield s
    s.close()


def test_read_returns_rows_as_dicts(store: Neo4jStore) -> None:
    assert store.read("UNWIND $xs AS x RETURN x, x * 2 AS y", {"xs": [1, 2]}) == [
        {"x": 1, "y": 2},
        {"x": 2, "y": 4},
    ]


def test_read_refuses_a_write(store: Neo4jStore) -> None:
    marker = f"read-{uuid.uuid4().hex}"
    with pytest.raises(ClientError) as refused:
        store.read("CREATE (n:ReadProbe {id: $id}) RETURN n.id AS id", {"id": marker})
    assert "AccessMode" in (refused.value.code or "")
    assert store.read("MATCH (n:ReadProbe {id: $id}) RETURN n.id AS id", {"id": marker}) == []


def test_read_stops_at_the_store_read_timeout(store: Neo4jStore) -> None:
    with pytest.raises(ClientError) as stopped:
        store.read(SLOW, {"n": 10**10})
    assert "TransactionTimedOut" in (stopped.value.code or "")


def test_read_retries_a_lost_connection_then_answers(
    store: Neo4jStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first session's connection is lost before the answer (as when the server restarts
    # under a pooled connection); the read is idempotent, so it is sent again.
    real_session = store._driver.session
    attempts: list[int] = []

    def flaky_session(**kwargs: Any) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise ServiceUnavailable("connection lost")
        return real_session(**kwargs)

    monkeypatch.setattr(store._driver, "session", flaky_session)
    assert store.read("RETURN $x AS x", {"x": 7}) == [{"x": 7}]
    assert len(attempts) == 2


def test_read_of_an_unreachable_server_gives_up_as_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(neo4j_store, "READ_RETRY_S", 0.5)
    # A port nothing listens on: every attempt is refused at once.
    s = Neo4jStore("bolt://127.0.0.1:1", "neo4j", NEO4J_PASSWORD)
    real_session = s._driver.session
    attempts: list[int] = []

    def counted_session(**kwargs: Any) -> Any:
        attempts.append(1)
        return real_session(**kwargs)

    monkeypatch.setattr(s._driver, "session", counted_session)
    started = time.monotonic()
    try:
        with pytest.raises(Unavailable):
            s.read("RETURN 1 AS x")
    finally:
        s.close()
    # Backoff 0.1 s, 0.2 s, ... inside the 0.5 s budget: sent again, and given up within it
    # (three attempts on an idle machine; slow refusals on a loaded one leave room for fewer).
    assert len(attempts) >= 2
    assert time.monotonic() - started < 5.0
