"""The routes whose services come from the composition root: persona, webhooks, keys."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.embedded


@pytest.fixture
def client(farm_client: TestClient) -> TestClient:
    return farm_client


def test_persona_of_a_ring_member(client: TestClient) -> None:
    got = client.get("/v1/accounts/farm2/persona")
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["account_id"] == "farm2"
    assert body["scores"]["risk"] > 0
    assert len(body["rings"]) == 1
    assert body["identifiers"]["device"] >= 1
    assert client.get("/v1/accounts/nobody/persona").status_code == 404


def test_webhook_subscription_lifecycle(client: TestClient) -> None:
    made = client.post(
        "/v1/webhooks", json={"url": "https://hooks.example.com/rw", "kinds": ["created"]}
    )
    assert made.status_code == 201, made.text
    sub = made.json()
    assert sub["secret"].startswith("whsec_") and sub["kinds"] == ["created"]
    listed = client.get("/v1/webhooks").json()["items"]
    assert [s["id"] for s in listed] == [sub["id"]]
    assert "secret" not in listed[0]
    assert client.get(f"/v1/webhooks/{sub['id']}/dead").json()["items"] == []
    assert client.delete(f"/v1/webhooks/{sub['id']}").status_code == 204
    assert client.get(f"/v1/webhooks/{sub['id']}").status_code == 404


def test_keys_made_listed_and_revoked(client: TestClient) -> None:
    made = client.post("/v1/keys", json={"role": "analyst", "name": "ana"})
    assert made.status_code == 201, made.text
    key_id = made.json()["key_id"]
    listed = {k["key_id"]: k for k in client.get("/v1/keys").json()["items"]}
    assert listed[key_id]["name"] == "ana"
    assert client.delete(f"/v1/keys/{key_id}").status_code == 204
    analyst = client.get("/v1/rings", headers={"Authorization": f"Bearer {made.json()['key']}"})
    assert analyst.status_code == 401
