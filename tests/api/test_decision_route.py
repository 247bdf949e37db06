"""The decision route's own handler (api/decision_route.py) answers as FastAPI's route did.

Each request below goes once through the app as served (the pre-built route first) and once
through the same app with that route taken out of the table (FastAPI's route alone, as before
it existed): status, body and headers must be the same, and only well-formed requests with a
key may be answered without FastAPI.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from starlette.types import Message

from ringwatch.api.decision_route import DecisionRoute
from ringwatch.api.telemetry import REQUESTS
from tests.api.conftest import Role, key_for
from tests.events import signup

pytestmark = pytest.mark.embedded

JSON = "application/json"
# Decision ids, times and request ids differ between any two answers.
VARYING_FIELDS = ("decision_id", "at")
VARYING_HEADERS = ("x-request-id", "content-length")


def _body(account: str = "newcomer", **changes: Any) -> dict[str, Any]:
    ctx = signup(f"ev-{account}", account, device_id="emu", card="c1")
    return {"account_id": account, "checkpoint": "signup", "context": ctx, **changes}


def _json(value: Any) -> bytes:
    return orjson.dumps(value)


# (name, body bytes, content type or None, key role or None, answered by the pre-built route)
CASES: list[tuple[str, bytes, str | None, Role | None, bool]] = [
    ("well-formed", _json(_body()), JSON, Role.DECIDE, True),
    ("charset", _json(_body()), "application/json; charset=utf-8", Role.DECIDE, True),
    ("admin key", _json(_body()), JSON, Role.ADMIN, True),
    ("no context", _json({"account_id": "a1", "checkpoint": "login"}), JSON, Role.DECIDE, True),
    ("context for another account", _json(_body(account_id="x")), JSON, Role.DECIDE, True),
    ("bad context event", _json(_body(context={"type": "nope"})), JSON, Role.DECIDE, True),
    ("no key", _json(_body()), JSON, None, True),
    ("role may not decide", _json(_body()), JSON, Role.INGEST, True),
    ("not JSON", b'{"account_id": ', JSON, Role.DECIDE, False),
    ("not JSON and no key", b"{", JSON, None, False),
    ("invalid and no key", _json({"checkpoint": "nope"}), JSON, None, False),
    ("no content type", _json(_body()), None, Role.DECIDE, False),
    ("text content type", _json(_body()), "text/plain", Role.DECIDE, False),
    ("+json content type", _json(_body()), "application/vnd.rw+json", Role.DECIDE, False),
    ("empty body", b"", JSON, Role.DECIDE, False),
    ("a list", b"[]", JSON, Role.DECIDE, False),
    ("missing field", _json({"account_id": "a1"}), JSON, Role.DECIDE, False),
    ("unknown checkpoint", _json(_body(checkpoint="lunch")), JSON, Role.DECIDE, False),
    ("extra field", _json(_body(debug=True)), JSON, Role.DECIDE, False),
    ("empty account id", _json(_body(account_id="")), JSON, Role.DECIDE, False),
    ("account id a number", _json(_body(account_id=7)), JSON, Role.DECIDE, False),
    (
        "NaN, which only Python's parser takes",
        b'{"account_id": "n1", "checkpoint": "login", "context": {"score": NaN}}',
        JSON,
        Role.DECIDE,
        False,
    ),
    (
        "duplicate keys",
        b'{"account_id": "x", "checkpoint": "login", "account_id": "d1"}',
        JSON,
        Role.DECIDE,
        True,
    ),
]


@pytest.fixture
def clients(farm_client: TestClient) -> Iterator[dict[Role | None, TestClient]]:
    app = farm_client.app
    made: dict[Role | None, TestClient] = {}
    for role in (Role.DECIDE, Role.ADMIN, Role.INGEST, None):
        c = TestClient(app, raise_server_exceptions=False)
        if role is not None:
            c.headers["Authorization"] = f"Bearer {key_for(app, role)}"  # type: ignore[arg-type]
        made[role] = c
    yield made
    for c in made.values():
        c.close()


def _send(client: TestClient, body: bytes, content_type: str | None) -> tuple[Any, ...]:
    headers = {"content-type": content_type} if content_type else {}
    r = client.post("/v1/decisions", content=body, headers=headers)
    try:
        answer: Any = r.json()
    except ValueError:
        answer = r.text
    if isinstance(answer, dict):
        answer = {k: v for k, v in answer.items() if k not in VARYING_FIELDS}
    kept = sorted((k, v) for k, v in r.headers.items() if k not in VARYING_HEADERS)
    return r.status_code, answer, kept


@pytest.mark.parametrize(("name", "body", "content_type", "role", "fast"), CASES)
def test_the_pre_built_route_answers_as_fastapis_route(
    clients: dict[Role | None, TestClient],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    body: bytes,
    content_type: str | None,
    role: Role | None,
    fast: bool,
) -> None:
    handed_back: list[str] = []
    generic = DecisionRoute._generic

    async def spy(self: DecisionRoute, *args: Any) -> None:
        handed_back.append(name)
        await generic(self, *args)

    monkeypatch.setattr(DecisionRoute, "_generic", spy)
    client = clients[role]
    routes = client.app.router.routes  # type: ignore[attr-defined]
    route = routes[0]
    assert isinstance(route, DecisionRoute)

    # FastAPI's route alone first: a well-formed request's context event is then a duplicate
    # for the second (intake counts it once), as it would be for both orders.
    routes.remove(route)
    try:
        before = _send(client, body, content_type)
    finally:
        routes.insert(0, route)
    now = _send(client, body, content_type)

    assert now == before
    assert handed_back == ([] if fast else [name])


def test_the_route_keeps_fastapis_metrics_label(clients: dict[Role | None, TestClient]) -> None:
    def count(status: str) -> float:
        value = REQUESTS.labels("POST", "/v1/decisions", status)._value.get()
        return float(value)

    ok, refused = count("200"), count("422")
    assert clients[Role.DECIDE].post("/v1/decisions", json=_body("m1")).status_code == 200
    assert clients[Role.DECIDE].post("/v1/decisions", json={"account_id": "m1"}).status_code == 422
    assert (count("200"), count("422")) == (ok + 1, refused + 1)


def test_the_route_stays_out_of_the_openapi_document(farm_client: TestClient) -> None:
    paths = farm_client.get("/openapi.json").json()["paths"]
    operation = paths["/v1/decisions"]["post"]
    assert operation["requestBody"]["content"][JSON]["schema"] == {
        "$ref": "#/components/schemas/DecisionRequest"
    }
    assert "422" in operation["responses"] and "401" in operation["responses"]


def test_a_client_gone_before_its_body_gets_fastapis_answer(farm_client: TestClient) -> None:
    app = farm_client.app
    routes = app.router.routes  # type: ignore[attr-defined]

    async def call() -> list[Message]:
        sent: list[Message] = []
        parts: list[Message] = [
            {"type": "http.request", "body": b'{"account_id": ', "more_body": True},
            {"type": "http.disconnect"},
        ]

        async def receive() -> Message:
            return parts.pop(0)

        async def send(message: Message) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/decisions",
            "raw_path": b"/v1/decisions",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"content-type", b"application/json"), (b"host", b"testserver")],
            "client": ("127.0.0.1", 1),
            "server": ("testserver", 80),
        }
        await app(scope, receive, send)  # type: ignore[arg-type]
        return [m for m in sent if m["type"] != "http.response.start"] + [
            {k: v for k, v in m.items() if k != "headers"}
            for m in sent
            if m["type"] == "http.response.start"
        ]

    route = routes.pop(0)
    assert isinstance(route, DecisionRoute)
    try:
        before = asyncio.run(call())
    finally:
        routes.insert(0, route)
    now = asyncio.run(call())
    assert now == before
    assert {"type": "http.response.start", "status": 400} in now


# The key's check rides in the decision's first Redis round trip (one script checks the key and
# accepts the context event only for an admitted key): a refused key must get the answer the
# key's own check gave, and leave nothing behind (no accepted event, no decision record).
def _wrong_secret(token: str) -> str:
    return token[: token.rindex("_") + 1] + "not-the-secret"


def _refusal_cases(app: Any) -> list[tuple[str, str, dict[str, Any]]]:
    keys = app.state.services.keys
    revoked = key_for(app, Role.DECIDE)
    keys.revoke(revoked.split("_")[1])
    limited = key_for(app, Role.DECIDE, rate_limit=1)
    # Over its rate for the next minute, whatever the time between requests.
    app.state.services.redis.set(f"rw:ratelimit:{limited.split('_')[1]}", 1_000, px=60_000)
    decide, ingest = key_for(app, Role.DECIDE), key_for(app, Role.INGEST)
    bad_context = {"context": {"type": "nope"}}
    return [
        ("wrong secret", _wrong_secret(decide), {}),
        ("malformed key", "rw_nothex_secret", {}),
        ("unknown key id", "rw_0123456789abcdef_secret", {}),
        ("revoked key", revoked, {}),
        ("over its rate", limited, {}),
        ("role may not decide", ingest, {}),
        ("wrong secret, bad context", _wrong_secret(decide), bad_context),
        ("role may not decide, bad context", ingest, bad_context),
        ("over its rate, bad context", limited, bad_context),
        ("wrong secret, no context", _wrong_secret(decide), {"context": None}),
        ("role may not decide, no context", ingest, {"context": None}),
    ]


def test_a_refused_key_is_answered_first_and_leaves_nothing(farm_client: TestClient) -> None:
    app: Any = farm_client.app
    client = TestClient(app, raise_server_exceptions=False)
    r = app.state.services.redis
    routes = app.router.routes
    route = routes[0]
    assert isinstance(route, DecisionRoute)
    for i, (name, token, changes) in enumerate(_refusal_cases(app)):
        account = f"refused{i}"
        body = _json(_body(account, **changes))
        client.headers["Authorization"] = f"Bearer {token}"
        routes.remove(route)
        try:
            before = _send(client, body, JSON)
        finally:
            routes.insert(0, route)
        now = _send(client, body, JSON)
        assert now == before, name
        assert now[0] in (401, 403, 429), name
        assert r.hget("rw:dedupe:20260301", f"ev-{account}") is None, name
        assert r.llen(f"rw:decisions:account:{account}") == 0, name
        if "rate" in name:
            assert dict(now[2]).get("retry-after"), name
    client.close()


def test_a_wrong_secret_spends_nothing_and_a_good_key_then_decides(
    farm_client: TestClient,
) -> None:
    app: Any = farm_client.app
    r = app.state.services.redis
    token = key_for(app, Role.DECIDE, rate_limit=5)
    key_id = token.split("_")[1]
    client = TestClient(app, raise_server_exceptions=False)
    body = _json(_body("second-try"))
    client.headers["Authorization"] = f"Bearer {_wrong_secret(token)}"
    assert _send(client, body, JSON)[0] == 401
    assert r.get(f"rw:ratelimit:{key_id}") is None  # a wrong secret spends none of the rate
    client.headers["Authorization"] = f"Bearer {token}"
    status, answer, _ = _send(client, body, JSON)
    assert status == 200 and answer["account_id"] == "second-try"
    assert int(r.get(f"rw:ratelimit:{key_id}")) == 1  # a good key's request is counted once
    # The event refused with the wrong secret was not claimed then: it is accepted now, once.
    assert r.hget("rw:dedupe:20260301", "ev-second-try") is not None
    assert r.llen("rw:decisions:account:second-try") == 1
    client.close()


def test_decisions_go_on_after_redis_lost_its_scripts(farm_client: TestClient) -> None:
    """A Redis restarted (or flushed of scripts) answers NOSCRIPT: the decision's key check and
    acceptance, and its audit record, are sent again after the script is loaded."""
    app: Any = farm_client.app
    r = app.state.services.redis
    client = TestClient(app, raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {key_for(app, Role.DECIDE)}"
    for account in ("flushed1", "flushed2"):
        r.script_flush()
        status, answer, _ = _send(client, _json(_body(account)), JSON)
        assert status == 200 and answer["account_id"] == account
        assert r.hget("rw:dedupe:20260301", f"ev-{account}") is not None
        assert r.llen(f"rw:decisions:account:{account}") == 1
    client.close()


def test_a_review_decision_is_recorded_then_queued_for_review(farm_client: TestClient) -> None:
    """A `review` decision writes its review item to the graph after its audit record (the
    decision's pool hop does both, in `decide`'s order): both exist when it is answered."""
    app: Any = farm_client.app
    client = TestClient(app, raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {key_for(app, Role.DECIDE)}"
    ctx = signup("ev-reviewed", "reviewed", card="c1")  # the farm's card alone: a review
    status, answer, _ = _send(
        client, _json({"account_id": "reviewed", "checkpoint": "signup", "context": ctx}), JSON
    )
    assert status == 200 and answer["action"] == "review"
    assert app.state.services.redis.llen("rw:decisions:account:reviewed") == 1
    items = farm_client.get("/v1/reviews", params={"status": "open"}).json()["items"]
    assert [i["subject_id"] for i in items if i["subject_id"] == "reviewed"] == ["reviewed"]
    client.close()
