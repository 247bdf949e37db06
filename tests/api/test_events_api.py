"""POST /v1/events and the health routes, on the embedded engine, through the real app."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from fastapi.testclient import TestClient

from ringwatch.api.app import create_app
from ringwatch.settings import Settings
from tests.api.conftest import grant
from tests.events import event, signup
from tests.queues import ListQueue

pytestmark = pytest.mark.embedded




@pytest.fixture
def queue() -> ListQueue:
    return ListQueue()


@pytest.fixture
def client(embedded_settings: Settings, queue: ListQueue) -> Iterator[TestClient]:
    embedded_settings.max_events_per_request = 50
    embedded_settings.max_body_bytes = 64 * 1024
    with TestClient(create_app(embedded_settings, queue)) as c:
        yield grant(c)


def test_accepts_valid_and_reports_each_rejection(client: TestClient, queue: ListQueue) -> None:
    body = [
        signup("e1", "a1", ip="192.0.2.1", device_id="d1"),
        signup("e2", "a2", ip="999.1.1.1"),
        {"event_id": "e3", "type": "signup", "account_id": "a3", "ts": "yesterday"},
        event("engage", "e4", "a1", target_id="t", action="teleport"),
        "not an object",
    ]
    r = client.post("/v1/events", json=body)
    assert r.status_code == 202
    got = r.json()
    assert got["accepted"] == 1 and got["duplicates"] == 0
    assert [(p["index"], p["field"]) for p in got["rejected"]] == [
        (1, "ip"),
        (2, "ts"),
        (3, "action"),
        (4, "event"),
    ]
    assert queue.ids == got["batches"] and len(queue.ids) == 1
    services = client.app.state.services  # type: ignore[attr-defined]
    services.ingest.apply(queue.ids[0])
    assert services.store.summary().nodes["Account"] == 1


def test_ndjson_body_and_replays(client: TestClient) -> None:
    lines = [orjson.dumps(event("login", f"n{i}", "a", device_id="d")) for i in range(3)]
    r = client.post(
        "/v1/events",
        content=b"\n".join([*lines, b"{oops"]),
        headers={"content-type": "application/x-ndjson"},
    )
    assert r.status_code == 202
    assert r.json()["accepted"] == 3
    assert r.json()["rejected"][0]["index"] == 3
    again = client.post("/v1/events", content=b"\n".join(lines))
    assert again.status_code == 202
    assert again.json() == {"accepted": 0, "duplicates": 3, "rejected": [], "batches": []}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", 422),
        (b"[1, 2", 422),
        (b"[]", 422),
        (b"[{}]", 422),
        (b'{"event_id": 1}', 422),
        (orjson.dumps([event("login", f"x{i}", "a") for i in range(51)]), 413),
        (b"[" + b" " * (70 * 1024) + b"]", 413),
    ],
)
def test_bad_bodies_get_4xx_never_500(client: TestClient, body: bytes, status: int) -> None:
    r = client.post("/v1/events", content=body)
    assert r.status_code == status
    assert "error" in r.json()


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"store": "ok", "redis": "ok", "strategies": "ok"}


def test_openapi_documents_the_event_schema(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert "SignupEvent" in schemas and "Event" in schemas
    assert "/v1/events" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_control_characters_in_ids_are_refused_with_the_field(client: TestClient) -> None:
    # "\x01" in an engagement target took the embedded engine down (found by the fuzzer).
    body = [
        event("engage", "c1", "a1", target_id="a\x01b", action="like"),
        event("engage", "c2", "a\x91", target_id="t", action="like"),
        event("engage", "c3", "a1", target_id="t\u00e9\U0001f600", action="like"),
    ]
    r = client.post("/v1/events", json=body)
    assert r.status_code == 202
    got = r.json()
    assert got["accepted"] == 1
    rejected = {(p["index"], p["field"]): p["reason"] for p in got["rejected"]}
    assert set(rejected) == {(0, "target_id"), (1, "account_id")}
    assert all("control characters" in reason for reason in rejected.values())
    assert client.get("/readyz").status_code == 200
