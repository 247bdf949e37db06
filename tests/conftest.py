"""Fixtures for real engines. Under `make test` the servers are up and required; elsewhere a test
that needs Neo4j or Redis is skipped with the reason, and embedded-engine tests still run."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pydantic import SecretStr

from ringwatch.graph.embedded import EmbeddedServer, embedded_server
from ringwatch.graph.falkordb_store import FalkorDBStore
from ringwatch.graph.store import GraphStore
from ringwatch.identity import Pseudonymiser
from ringwatch.settings import Settings

NEO4J_URI = os.environ.get("RINGWATCH_TEST_NEO4J_URI")
NEO4J_PASSWORD = os.environ.get("RINGWATCH_TEST_NEO4J_PASSWORD", "ringwatch-test-password")
REDIS_URL = os.environ.get("RINGWATCH_TEST_REDIS_URL")
REQUIRE = os.environ.get("RINGWATCH_TEST_REQUIRE_SERVERS") == "1"
TEST_KEY = b"ringwatch-tests-key-0123456789abcdef"


def _missing(what: str) -> None:
    if REQUIRE:
        pytest.fail(f"{what} is required under make test but is not configured")
    pytest.skip(f"{what} not configured (run `make test` or `make services-up`)")


@pytest.fixture(scope="session")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    server = embedded_server(tmp_path_factory.mktemp("embedded"))
    yield server
    server.stop()


@pytest.fixture
def falkordb_store(embedded: EmbeddedServer) -> Iterator[FalkorDBStore]:
    # A fresh graph key per test isolates tests without restarting the server.
    store = FalkorDBStore(embedded.client(), f"test-{uuid.uuid4().hex[:12]}")
    store.ensure_schema()
    yield store
    store.clear()


@pytest.fixture(scope="session")
def neo4j_session_store() -> Iterator[GraphStore]:
    if not NEO4J_URI:
        _missing("Neo4j")
    from ringwatch.graph.neo4j_store import Neo4jStore

    store = Neo4jStore(str(NEO4J_URI), "neo4j", NEO4J_PASSWORD)
    store.ensure_schema()
    yield store
    store.close()


@pytest.fixture
def neo4j_store(neo4j_session_store: GraphStore) -> GraphStore:
    neo4j_session_store.clear()
    return neo4j_session_store


@pytest.fixture(params=["embedded", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def store(request: pytest.FixtureRequest) -> GraphStore:
    """The contract: every test using this runs on both engines."""
    name = "falkordb_store" if request.param == "embedded" else "neo4j_store"
    result: GraphStore = request.getfixturevalue(name)
    return result


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    if not REDIS_URL:
        _missing("Redis")
    client = redis.Redis.from_url(str(REDIS_URL), db=1)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def hasher() -> Pseudonymiser:
    return Pseudonymiser(TEST_KEY)


@pytest.fixture
def embedded_settings(tmp_path: Path) -> Settings:
    return Settings(env="test", data_dir=tmp_path / "engine", hash_key=SecretStr(TEST_KEY.decode()))
