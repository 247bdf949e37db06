"""GET /v1/verdicts and the /v1/webhooks management routes on the embedded engine."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ringwatch.services.feed import encode_cursor

pytestmark = pytest.mark.embedded


@pytest.fixture
def client(farm_client: TestClient) -> TestClient:
    return farm_client


def test_feed_pages_and_replays(client: TestClient) -> None:
    full = client.get("/v1/verdicts", params={"limit": 1000}).json()
    items = full["items"]
    assert [i["seq"] for i in items] == list(range(1, len(items) + 1))
    assert {(i["subject"], i["kind"]) for i in items} >= {("ring", "created")}
    assert items[0]["at"].endswith("Z") and isinstance(items[0]["detail"], dict)

    # Two at a time, restarting from every cursor, is the same log.
    cursor, seen = "", []
    while True:
        page = client.get("/v1/verdicts", params={"after": cursor, "limit": 2}).json()
        seen += page["items"]
        if not page["items"]:
            assert page["next_cursor"] == cursor
            break
        cursor = page["next_cursor"]
    assert seen == items
    assert client.get("/v1/verdicts").json()["items"] == items[:100]
    empty = client.get("/v1/verdicts", params={"after": full["next_cursor"]}).json()
    assert empty == {"items": [], "next_cursor": full["next_cursor"]}
    assert (
        client.get("/v1/verdicts", params={"after": encode_cursor(1)}).json()["items"] == items[1:]
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after": "not-a-cursor!"}, "after"),
        ({"after": encode_cursor(1)[:-3]}, "after"),
        ({"limit": 0}, "query.limit"),
        ({"limit": 1001}, "query.limit"),
    ],
)
def test_bad_feed_requests_are_422_naming_the_field(
    client: TestClient, params: dict[str, object], field: str
) -> None:
    r = client.get("/v1/verdicts", params=params)
    assert r.status_code == 422
    assert r.json()["problems"][0]["field"] == field


def test_webhook_routes(client: TestClient) -> None:
    created = client.post(
        "/v1/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "kinds": ["created", "cleared"], "max_delay_s": 30},
    )
    assert created.status_code == 201
    sub = created.json()
    assert sub["secret"].startswith("whsec_")
    assert sub["kinds"] == ["cleared", "created"] and sub["subjects"] == ["account", "ring"]

    listed = client.get("/v1/webhooks").json()["items"]
    assert [s["id"] for s in listed] == [sub["id"]]
    assert "secret" not in listed[0] and sub["secret"] not in client.get("/v1/webhooks").text
    assert "secret" not in client.get(f"/v1/webhooks/{sub['id']}").json()

    assert client.get(f"/v1/webhooks/{sub['id']}/dead").json()["items"] == []
    assert client.post(f"/v1/webhooks/{sub['id']}/dead/1/redeliver").status_code == 404

    bad = client.post("/v1/webhooks", json={"url": "file:///etc/passwd", "subjects": ["user"]})
    assert bad.status_code == 422
    assert {p["field"] for p in bad.json()["problems"]} == {"url", "subjects"}
    assert (
        client.post("/v1/webhooks", json={"url": "http://x.test", "secret": "x"}).status_code == 422
    )

    assert client.delete(f"/v1/webhooks/{sub['id']}").status_code == 204
    assert client.delete(f"/v1/webhooks/{sub['id']}").status_code == 404
    assert client.get(f"/v1/webhooks/{sub['id']}/dead").status_code == 404
    assert client.get("/v1/webhooks").json()["items"] == []
