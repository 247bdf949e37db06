"""Neo4jStore.read keeps what a read transaction promised when it moved to `execute_query`
(BEGIN pipelined with RUN): the read-only access mode and the store's read timeout."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from neo4j.exceptions import ClientError

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
