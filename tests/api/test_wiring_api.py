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


def test_console_answers_carry_their_headers_and_api_answers_do_not(client: TestClient) -> None:
    # The console's headers are added by a bare ASGI middleware that lets every other path
    # through untouched (docs/performance.md, decisions): both halves of that must hold.
    page = client.get("/console/login")
    assert page.status_code == 200, page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    # A console answer with its own Cache-Control keeps it; a refusal still gets the headers.
    static = client.get("/console/static/console.css")
    assert static.headers["cache-control"] == "max-age=3600", static.status_code
    refused = client.get("/console/rings", follow_redirects=False)  # no session cookie
    assert refused.status_code != 200
    assert refused.headers["x-content-type-options"] == "nosniff"
    api = client.get("/v1/strategies")
    assert api.status_code == 200, api.text
    assert "content-security-policy" not in api.headers
    assert "referrer-policy" not in api.headers
