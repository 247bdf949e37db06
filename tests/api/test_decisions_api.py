"""POST /v1/decisions on the embedded engine. The route sends the service's dict as built (no
response-model pass), so this checks that dict against the documented DecisionResponse."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ringwatch.api.decisions import DecisionResponse
from tests.api.conftest import FARM
from tests.events import signup

pytestmark = pytest.mark.embedded


def test_a_decision_answers_the_documented_model_and_is_in_the_audit_log(
    farm_client: TestClient,
) -> None:
    ctx = signup("new-1", "newcomer", ts="2026-03-02T09:00:00Z", device_id="emu", card="c1")
    r = farm_client.post(
        "/v1/decisions", json={"account_id": "newcomer", "checkpoint": "signup", "context": ctx}
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    parsed = DecisionResponse.model_validate(body, strict=False)
    # Nothing beyond the model, nothing missing from it.
    assert set(body) == set(DecisionResponse.model_fields)
    assert parsed.model_dump(mode="json") == body
    assert body["account_id"] == "newcomer" and body["checkpoint"] == "signup"
    assert body["ring"] is not None and body["ring"]["size"] == len(FARM)
    assert body["ring"]["member"] is False
    log = farm_client.app.state.services.decisions.log  # type: ignore[attr-defined]
    stored = log.get(body["decision_id"])
    assert stored is not None
    assert {k: stored[k] for k in body} == body


def test_a_context_for_another_account_is_422_naming_the_field(farm_client: TestClient) -> None:
    ctx = signup("new-2", "someone-else", device_id="emu")
    r = farm_client.post(
        "/v1/decisions", json={"account_id": "newcomer", "checkpoint": "signup", "context": ctx}
    )
    assert r.status_code == 422
    assert r.json()["problems"][0]["field"] == "context.account_id"
