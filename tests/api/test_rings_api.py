"""GET /v1/rings, /v1/rings/{id}, /v1/accounts/{id} on the embedded engine."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.embedded


@pytest.fixture
def client(farm_client: TestClient) -> TestClient:
    return farm_client


def test_list_and_get_ring(client: TestClient) -> None:
    page = client.get("/v1/rings", params={"min_size": 3, "limit": 10})
    assert page.status_code == 200
    items = page.json()["items"]
    assert len(items) == 1 and items[0]["size"] == 6
    ring = client.get(f"/v1/rings/{items[0]['id']}").json()
    assert sorted(m["id"] for m in ring["members"]) == [f"farm{i}" for i in range(6)]
    assert ring["evidence"]["shared_identifiers"]
    assert client.get("/v1/rings", params={"min_size": 7}).json()["items"] == []


def test_account_view(client: TestClient) -> None:
    acc = client.get("/v1/accounts/farm2").json()
    assert acc["ring_id"] and acc["risk"] > 0
    assert set(acc["identifiers"]) == {"device", "card"}
    assert acc["identifiers"]["device"][0]["accounts"] == 6


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/rings/ring_missing", 404),
        ("/v1/accounts/nobody", 404),
        ("/v1/rings?verdict=evil", 422),
        ("/v1/rings?limit=0", 422),
        ("/v1/rings?min_size=-1", 422),
        ("/v1/rings?updated_since=yesterday", 422),
    ],
)
def test_bad_requests(client: TestClient, path: str, status: int) -> None:
    r = client.get(path)
    assert r.status_code == status
    body = r.json()
    assert "error" in body
    if status == 422:
        assert body["problems"][0]["field"]
