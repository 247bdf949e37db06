"""POST /v1/cypher, GET /v1/investigations, POST /v1/investigations/{name}: status codes and
bodies, on both engines."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ringwatch.api.app import create_app
from ringwatch.settings import Settings
from tests.conftest import NEO4J_PASSWORD, NEO4J_URI, _missing

try:  # API keys, where the auth layer is present (tests/api/conftest.py)
    from tests.api.conftest import grant as _grant

    def grant(client: TestClient) -> TestClient:
        return _grant(client, "analyst")
except ImportError:  # pragma: no cover - before keys existed every route was open

    def grant(client: TestClient) -> TestClient:
        return client


pytestmark = pytest.mark.embedded


class InlineQueue:
    def __init__(self) -> None:
        self.app: Any = None

    def enqueue(self, batch_id: str) -> None:
        self.app.state.services.ingest.apply(batch_id)


@pytest.fixture(params=["embedded", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def client(request: pytest.FixtureRequest, embedded_settings: Settings) -> Iterator[TestClient]:
    settings = embedded_settings
    if request.param == "neo4j":
        if not NEO4J_URI:
            _missing("Neo4j")
        settings = settings.model_copy(
            update={"neo4j_uri": NEO4J_URI, "neo4j_password": NEO4J_PASSWORD}
        )
        settings.neo4j_password = type(embedded_settings.neo4j_password)(NEO4J_PASSWORD)
    queue = InlineQueue()
    app = create_app(settings, queue)
    queue.app = app
    with TestClient(app) as c:
        yield grant(c)


FARM = """
CREATE (d:Device {key: $p + 'emu', accounts: 6})
WITH d
UNWIND range(0, 5) AS i
CREATE (:Account {id: $p + 'farm' + toString(i)})-[:USES_DEVICE]->(d)
"""


@pytest.fixture
def farm(client: TestClient) -> str:
    """Six accounts on one device, under a fresh prefix (written straight to the store: the
    analyst key these tests hold may not ingest); returns the prefix."""
    p = f"api{uuid.uuid4().hex[:8]}-"
    client.app.state.services.store.write(FARM, {"p": p})  # type: ignore[attr-defined]
    return p


def test_read_query(client: TestClient, farm: str) -> None:
    query = "MATCH (a:Account) WHERE a.id STARTS WITH $p RETURN a.id AS id ORDER BY id"
    r = client.post("/v1/cypher", json={"query": query, "params": {"p": farm}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"columns", "rows", "truncated", "elapsed_ms", "engine"}
    assert body["columns"] == ["id"]
    assert [row[0] for row in body["rows"]] == [f"{farm}farm{i}" for i in range(6)]
    assert body["truncated"] is False
    capped = client.post("/v1/cypher", json={"query": query, "params": {"p": farm}, "row_cap": 2})
    assert len(capped.json()["rows"]) == 2 and capped.json()["truncated"] is True


# Each case in one test: every test here starts an app (and an engine), which costs seconds.
WRITES = [
    "CREATE (n:Account {id: 'evil'})",
    "MATCH (n:Account) SET n.risk = 0",
    "MATCH (n) DETACH\nDELETE n",
    "CALL { MATCH (n) CREATE (m:Copy) RETURN m } RETURN count(m)",
    "LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row",
    "CALL apoc.create.node(['X'], {}) YIELD node RETURN node",
    "CALL apoc.periodic.iterate('MATCH (n) RETURN n', 'DETACH DELETE n', {})",
    "MATCH (n) /* read */ sEt n.x = 1",
    "// only a comment\nMERGE (n:X)",
    "MATCH (n) RETURN n; MATCH (m) DETACH DELETE m",
    "USE system SHOW USERS",
    "CREATE INDEX FOR (n:Account) ON (n.x)",
    "MATCH (n) FOREACH (x IN [1] | SET n.x = x)",
]


def test_writes_are_403(client: TestClient, farm: str) -> None:
    before = client.post("/v1/cypher", json={"query": "MATCH (n) RETURN count(n) AS n"}).json()
    for query in WRITES:
        r = client.post("/v1/cypher", json={"query": query})
        assert r.status_code == 403, (query, r.text)
        body = r.json()
        assert body["problems"][0]["field"] == "query"
        assert "not allowed" in body["error"]
    after = client.post("/v1/cypher", json={"query": "MATCH (n) RETURN count(n) AS n"}).json()
    if client.app.state.services.settings.embedded:  # type: ignore[attr-defined]
        assert after["rows"] == before["rows"]  # Neo4j is shared with other tests


def test_bad_cypher_is_400_with_the_engines_message(client: TestClient) -> None:
    r = client.post("/v1/cypher", json={"query": "MATCH (n RETURN n"})
    assert r.status_code == 400
    assert "Invalid input" in r.json()["error"]
    assert client.post("/v1/cypher", json={"query": "RETURN 'open"}).status_code == 400


def test_bad_requests_are_422(client: TestClient) -> None:
    bodies: list[dict[str, Any]] = [
        {},
        {"query": ""},
        {"query": "RETURN 1", "row_cap": 0},
        {"query": "RETURN 1", "row_cap": 10_001},
        {"query": "RETURN 1", "params": []},
        {"query": "RETURN 1", "extra": True},
    ]
    for body in bodies:
        assert client.post("/v1/cypher", json=body).status_code == 422, body


def test_catalogue(client: TestClient) -> None:
    r = client.get("/v1/investigations")
    assert r.status_code == 200
    items = {item["name"]: item for item in r.json()["items"]}
    assert set(items) == {
        "shared_device",
        "path_between",
        "ring_neighbourhood",
        "banned_identifier_rings",
    }
    params = {p["name"]: p for p in items["path_between"]["params"]}
    assert params["from_account"] == {
        "name": "from_account",
        "type": "string",
        "required": True,
        "description": "one account",
    }
    assert params["max_length"]["default"] == 4 and params["max_length"]["maximum"] == 6


def test_run_investigation(client: TestClient, farm: str) -> None:
    r = client.post(
        "/v1/investigations/shared_device", json={"params": {"account_id": farm + "farm0"}}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["investigation"] == "shared_device"
    accounts = [row[body["columns"].index("account")] for row in body["rows"]]
    assert accounts == [f"{farm}farm{i}" for i in range(1, 6)]


def test_unknown_investigation_is_404(client: TestClient) -> None:
    r = client.post("/v1/investigations/drop_everything", json={"params": {}})
    assert r.status_code == 404


def test_bad_investigation_params_are_422(client: TestClient) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "params.account_id"),
        ({"account_id": "a", "bogus": 1}, "params.bogus"),
        ({"account_id": 12}, "params.account_id"),
        ({"account_id": "a", "limit": 100_000}, "params.limit"),
    ]
    for params, field in cases:
        r = client.post("/v1/investigations/shared_device", json={"params": params})
        assert r.status_code == 422, params
        assert field in [p["field"] for p in r.json()["problems"]]


def test_parameters_the_engines_cannot_take_are_refused_with_the_field(
    client: TestClient,
) -> None:
    # Found by the schemathesis fuzzer: such parameters gave a 500.
    body = {
        "query": "RETURN $ok AS ok",
        "params": {"ok": 1, "bad\u0016name": 2, "m": {"": 1, "s": "a\u0006b"}},
    }
    r = client.post("/v1/cypher", json=body)
    assert r.status_code == 422
    fields = {p["field"] for p in r.json()["problems"]}
    assert fields == {"params", "params.m", "params.m.s"}
