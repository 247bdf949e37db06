"""/v1/reviews, /v1/audit and POST /v1/rings/{id}/actions over HTTP on the embedded engine: who
may call them, the 404/409/422 answers, and the Idempotency-Key."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from ringwatch.services import reviews
from tests.api.conftest import Role

pytestmark = pytest.mark.embedded

FARM = [f"farm{i}" for i in range(6)]


@pytest.fixture
def client(farm_client: TestClient) -> TestClient:
    return farm_client


def _ring(client: TestClient) -> str:
    ring_id: str = client.get("/v1/rings", params={"min_size": 3}).json()["items"][0]["id"]
    return ring_id


def test_ring_action_over_http(
    client: TestClient, client_as: Callable[[Role | str], TestClient]
) -> None:
    ring_id = _ring(client)
    enforcer = client_as(Role.ENFORCEMENT)
    body = {"action": "ban", "reason": "card testing"}
    headers = {"Idempotency-Key": "op-42"}
    first = enforcer.post(f"/v1/rings/{ring_id}/actions", json=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["members"] == FARM and not first.json()["replayed"]
    again = enforcer.post(f"/v1/rings/{ring_id}/actions", json=body, headers=headers)
    assert again.status_code == 200 and again.json()["replayed"]
    assert again.json()["operation"] == first.json()["operation"]
    members = client.get(f"/v1/rings/{ring_id}").json()["members"]
    assert {m["status"] for m in members} == {"ban"}

    other = enforcer.post(
        f"/v1/rings/{ring_id}/actions", json={**body, "action": "suspend"}, headers=headers
    )
    assert other.status_code == 422
    assert enforcer.post("/v1/rings/ring_nope/actions", json=body).status_code == 404
    outsider = enforcer.post(
        f"/v1/rings/{ring_id}/actions", json={**body, "members": ["farm1", "someone"]}
    )
    assert outsider.status_code == 422
    assert enforcer.post(f"/v1/rings/{ring_id}/actions", json={"action": "nuke"}).status_code == 422
    refused = client_as(Role.INVESTIGATOR).post(f"/v1/rings/{ring_id}/actions", json=body)
    assert refused.status_code == 403

    trail = client_as(Role.INVESTIGATOR).get("/v1/audit", params={"subject": f"ring:{ring_id}"})
    assert trail.status_code == 200
    (entry,) = trail.json()["items"]
    assert entry["action"] == "ring.ban" and entry["after"]["members"] == FARM
    assert entry["before"]["member_status"] == dict.fromkeys(FARM)
    verdicts = enforcer.get("/v1/verdicts", params={"limit": 500}).json()["items"]
    (told,) = [v for v in verdicts if v["kind"] == "actioned" and v["subject"] == "ring"]
    assert told["subject_id"] == ring_id and told["detail"]["action"] == "ban"
    assert told["run"] == first.json()["operation"]


def test_review_lifecycle_over_http(
    client: TestClient, client_as: Callable[[Role | str], TestClient]
) -> None:
    store = client.app.state.services.store  # type: ignore[attr-defined]
    reviews.queue_decision(
        store,
        {
            "decision_id": "dec_1",
            "account_id": "farm2",
            "checkpoint": "signup",
            "action": "review",
            "score": 55,
            "reasons": [],
            "ring": None,
        },
    )
    alice, bob = client_as(Role.INVESTIGATOR), client_as(Role.INVESTIGATOR)
    listed = alice.get("/v1/reviews", params={"status": "open", "sort": "priority"})
    assert listed.status_code == 200
    (item,) = [i for i in listed.json()["items"] if i["subject_id"] == "farm2"]
    rid = item["id"]

    assert alice.post(f"/v1/reviews/{rid}/claim").status_code == 200
    assert bob.post(f"/v1/reviews/{rid}/claim").status_code == 409
    assert bob.post(f"/v1/reviews/{rid}/resolve", json={"label": "legit"}).status_code == 409
    assert alice.post(f"/v1/reviews/{rid}/resolve", json={"label": "maybe"}).status_code == 422
    done = alice.post(
        f"/v1/reviews/{rid}/resolve", json={"label": "fraud", "note": "same card as the farm"}
    )
    assert done.status_code == 200, done.text
    assert done.json()["label"] == "fraud" and done.json()["effects"]["action"] == "ban"
    assert bob.post(f"/v1/reviews/{rid}/resolve", json={"label": "legit"}).status_code == 409
    assert alice.get(f"/v1/reviews/{rid}").json()["status"] == "resolved"
    assert alice.post("/v1/reviews/rev_nope/claim").status_code == 404

    trail = alice.get("/v1/audit", params={"subject": "account:farm2", "limit": 2})
    first = trail.json()
    rest = alice.get(
        "/v1/audit", params={"subject": "account:farm2", "after": first["next_cursor"]}
    ).json()
    actions = [e["action"] for e in first["items"] + rest["items"]]
    assert actions[:3] == ["review.created", "review.claimed", "review.resolved"]
    assert "account.ban" in actions
    assert alice.get("/v1/audit", params={"subject": "planet:mars"}).status_code == 422
    assert alice.get("/v1/audit", params={"after": "garbage"}).status_code == 422

    for role in (Role.ENFORCEMENT, Role.ANALYST, Role.DECIDE):
        assert client_as(role).get("/v1/reviews").status_code == 403
    assert client_as(Role.ANALYST).get("/v1/audit").status_code == 403
