"""GET /metrics: Prometheus text a scraper can read, counting what the API did."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.events import signup

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient) -> Samples:
    # No key: a scraper holds none.
    r = TestClient(client.app).get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_requests_events_decisions_and_health(api_client: TestClient) -> None:
    before = scrape(api_client)
    body = [
        signup("m1", "metrics-a1", ip="192.0.2.10", device_id="metrics-d1"),
        signup("m2", "metrics-a2", ip="192.0.2.11"),
        {"event_id": "m3", "type": "signup", "account_id": "metrics-a3", "ts": "yesterday"},
    ]
    assert api_client.post("/v1/events", json=body).status_code == 202
    assert api_client.post("/v1/events", json=body[:1]).status_code == 202  # a replay
    decision = api_client.post(
        "/v1/decisions", json={"account_id": "metrics-a1", "checkpoint": "login"}
    )
    assert decision.status_code == 200, decision.text
    persona = api_client.get("/v1/accounts/metrics-a1/persona")
    assert api_client.get("/v1/no-such-route").status_code == 404
    after = scrape(api_client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("ringwatch_events_total", outcome="accepted") == 2
    assert delta("ringwatch_events_total", outcome="duplicate") == 1
    assert delta("ringwatch_events_total", outcome="rejected") == 1
    action = decision.json()["action"]
    assert delta("ringwatch_decisions_total", action=action) == 1
    assert (
        delta("ringwatch_http_requests_total", method="POST", route="/v1/events", status="202")
        == 2
    )
    # The route's template, not the raw path: ids never become label values.
    route = "/v1/accounts/{account_id}/persona"
    templated = dict(method="GET", route=route, status=str(persona.status_code))
    assert delta("ringwatch_http_requests_total", **templated) == 1
    unmatched = dict(method="GET", route="unmatched", status="404")
    assert delta("ringwatch_http_requests_total", **unmatched) == 1
    assert not any("metrics-a1" in str(labels) or "no-such" in str(labels) for _, labels in after)
    assert (
        delta(
            "ringwatch_http_request_duration_seconds_count", method="POST", route="/v1/decisions"
        )
        == 1
    )
    assert value(after, "ringwatch_dependency_up", dependency="store") == 1
    assert value(after, "ringwatch_dependency_up", dependency="redis") == 1


def test_request_id_is_echoed_or_made(api_client: TestClient) -> None:
    given = api_client.get("/healthz", headers={"X-Request-ID": "req-123.abc"})
    assert given.headers["x-request-id"] == "req-123.abc"
    made = api_client.get("/healthz")
    assert len(made.headers["x-request-id"]) == 32
    # Something that is not an id of ours (an e-mail here) is replaced, never echoed or logged.
    odd = api_client.get("/healthz", headers={"X-Request-ID": "someone@example.com"})
    assert odd.headers["x-request-id"] != "someone@example.com"
