"""Keys and roles on every route, generated from the OpenAPI document (docs/security.md).

A route added by anyone shows up here on its own: it fails `test_every_route_is_classified`
until a rule in `ringwatch/api/auth.py` says who may call it, and the per-route test then checks
that the live answers (401 / 403 / allowed) are exactly what the table says.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ringwatch.api import auth
from ringwatch.api.app import create_app
from ringwatch.api.auth import OPEN_ROUTES, Role, allowed_roles, classify
from ringwatch.api.decision_route import DecisionRoute
from ringwatch.services.keys import KeyService
from ringwatch.settings import Settings
from tests.api.conftest import key_for
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.embedded

DOCS = ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")


class NullQueue:
    def enqueue(self, batch_id: str) -> None:
        pass


def _settings(data_dir: Path, **overrides: Any) -> Settings:
    # Limits far above what the generated test sends; the rate-limit test uses a key of its own.
    values: dict[str, Any] = {
        "env": "test",
        "data_dir": data_dir,
        "hash_key": TEST_KEY.decode(),
        "rate_limit_per_s": 100_000,
        "rate_limit_ingest_per_s": 100_000,
        **overrides,
    }
    return Settings(**values)


def _operations() -> list[tuple[str, str, str]]:
    """(method, path template, a concrete URL) for every operation in the OpenAPI document."""
    # Building the document needs no services, so the routes are known at collection time.
    spec = create_app(_settings(Path("/nonexistent")), NullQueue()).openapi()
    ops = []
    for template, operations in spec["paths"].items():
        for method, op in operations.items():
            url = template
            for param in op.get("parameters", []):
                if param["in"] == "path":
                    kind = param.get("schema", {}).get("type")
                    url = url.replace("{" + param["name"] + "}", "1" if kind == "integer" else "x1")
            ops.append((method.upper(), template, url))
    return sorted(ops, key=lambda o: (o[1], o[0]))


OPERATIONS = _operations()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    # One engine for the module: the generated test makes hundreds of requests.
    application = create_app(_settings(tmp_path_factory.mktemp("auth") / "engine"), NullQueue())
    with TestClient(application):
        yield application


@pytest.fixture(scope="module")
def keys(app: FastAPI) -> dict[Role, str]:
    return {role: key_for(app, role) for role in Role}


@pytest.fixture(scope="module")
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    # Handlers given dummy ids may fail in their own ways; only the auth answers matter here.
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _as(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _refused_by_role(response: Any) -> bool:
    # A handler may answer 403 for its own reasons (a Cypher write); the role check's says so.
    return response.status_code == 403 and str(response.json()["error"]).startswith("role ")


def test_every_route_is_classified() -> None:
    unclassified = [
        f"{method} {template}"
        for method, template, _ in OPERATIONS
        if (method, template) not in OPEN_ROUTES and classify(method, template) is None
    ]
    assert not unclassified, (
        "routes no permission rule covers (admin only until a rule in ringwatch/api/auth.py "
        f"says who may call them): {unclassified}"
    )


def test_every_route_carries_the_check(app: FastAPI) -> None:
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute):
            assert route.dependant.dependencies[0].call is auth.authorize, route.path
        elif isinstance(route.original_route, DecisionRoute):
            # It checks the key itself, with auth.py's functions; test_decision_route.py
            # sends it no key, a key of a role that may not decide, and keys that may.
            continue
        else:
            # Anything else (a mount, a bare Starlette route) would bypass the dependency.
            assert route.path in DOCS, route


@pytest.mark.parametrize(
    ("method", "template", "url"), OPERATIONS, ids=[f"{m} {t}" for m, t, _ in OPERATIONS]
)
def test_route_answers_as_the_table_says(
    anonymous: TestClient, keys: dict[Role, str], method: str, template: str, url: str
) -> None:
    if (method, template) in OPEN_ROUTES:
        assert anonymous.request(method, url).status_code not in (401, 403)
        return
    for headers in ({}, _as("rw_0123456789abcdef_not-the-secret"), {"X-API-Key": "nonsense"}):
        r = anonymous.request(method, url, headers=headers)
        assert r.status_code == 401, (headers, r.status_code, r.text)
        assert r.headers["WWW-Authenticate"] == "Bearer"
    allowed = allowed_roles(method, template)
    for role, key in keys.items():
        r = anonymous.request(method, url, headers=_as(key))
        assert r.status_code != 401, (role, r.text)
        if role in allowed:
            # Past the check, a dummy id or a missing body must still get a clean answer.
            assert r.status_code < 500 and not _refused_by_role(r), (role, r.status_code, r.text)
        else:
            assert _refused_by_role(r), (role, r.status_code, r.text)
    # The alternative header is as good as the bearer one.
    r = anonymous.request(method, url, headers={"X-API-Key": keys[Role.ADMIN]})
    assert r.status_code != 401 and not _refused_by_role(r)


ADMIN_ONLY: frozenset[Role] = frozenset()
EXPECTED: list[tuple[str, str, frozenset[Role] | None]] = [
    # The table, written out by hand so that a wrong rule cannot pass by agreeing with
    # itself. None: no rule covers the route (admin only, and test_every_route_is_classified
    # fails if such a route exists).
    ("POST", "/v1/events", frozenset({Role.INGEST})),
    ("GET", "/v1/events", None),
    ("POST", "/v1/decisions", frozenset({Role.DECIDE})),
    ("GET", "/v1/decisions/{decision_id}", frozenset({Role.DECIDE})),
    ("GET", "/v1/verdicts", frozenset({Role.ENFORCEMENT})),
    ("POST", "/v1/webhooks", frozenset({Role.ENFORCEMENT})),
    ("POST", "/v1/webhooks/{sub_id}/dead/{change}/redeliver", frozenset({Role.ENFORCEMENT})),
    ("DELETE", "/v1/webhooks/{sub_id}", frozenset({Role.ENFORCEMENT})),
    ("POST", "/v1/rings/{ring_id}/actions", frozenset({Role.ENFORCEMENT})),
    ("GET", "/v1/rings", frozenset({Role.INVESTIGATOR, Role.ANALYST})),
    ("GET", "/v1/rings/{ring_id}", frozenset({Role.INVESTIGATOR, Role.ANALYST})),
    ("POST", "/v1/rings/{ring_id}/merge", None),
    ("GET", "/v1/ringsx", None),
    ("GET", "/v1/accounts/{account_id}", frozenset({Role.INVESTIGATOR, Role.ANALYST})),
    ("GET", "/v1/detection/runs", frozenset({Role.INVESTIGATOR, Role.ANALYST})),
    ("GET", "/v1/detection/runs/{run_id}", frozenset({Role.INVESTIGATOR, Role.ANALYST})),
    ("POST", "/v1/detection/runs", None),
    ("GET", "/v1/accounts/{account_id}/persona", frozenset({Role.INVESTIGATOR})),
    ("GET", "/v1/reviews", frozenset({Role.INVESTIGATOR})),
    ("POST", "/v1/reviews/{review_id}/claim", frozenset({Role.INVESTIGATOR})),
    ("GET", "/v1/audit", frozenset({Role.INVESTIGATOR})),
    ("POST", "/v1/audit", None),
    ("GET", "/v1/investigations", frozenset({Role.INVESTIGATOR, Role.ANALYST})),
    ("POST", "/v1/investigations/{name}", frozenset({Role.INVESTIGATOR, Role.ANALYST})),
    ("POST", "/v1/cypher", frozenset({Role.ANALYST})),
    ("GET", "/v1/cypher", None),
    ("POST", "/v1/keys", ADMIN_ONLY),
    ("DELETE", "/v1/keys/{key_id}", ADMIN_ONLY),
    ("PUT", "/v1/strategies/{name}", ADMIN_ONLY),
    ("POST", "/v1/subscriptions", None),  # no such route: admin only, like every unclassified one
]


@pytest.mark.parametrize(("method", "template", "roles"), EXPECTED)
def test_permission_table(method: str, template: str, roles: frozenset[Role] | None) -> None:
    found = classify(method, template)
    if roles is None:
        assert found is None, found
    else:
        assert found is not None and found.roles == roles, found
    assert Role.ADMIN in allowed_roles(method, template)


def test_every_rule_covers_a_route() -> None:
    # A rule for a route that does not exist is a permission nobody can review against code.
    templates = [(m, auth._normalise(t)) for m, t, _ in OPERATIONS]
    idle = [r.spec for r in auth.PERMISSIONS if not any(r.matches(m, t) for m, t in templates)]
    assert not idle, f"permission rules that match no route: {idle}"


def test_no_two_rules_compete() -> None:
    seen: dict[tuple[str, bool], list[frozenset[str]]] = {}
    for rule in auth.PERMISSIONS:
        for other in seen.get((rule.path, rule.prefix), []):
            # Same path and kind with overlapping methods: which one decides would be arbitrary.
            assert other.isdisjoint(rule.methods) and other and rule.methods, rule.spec
        seen.setdefault((rule.path, rule.prefix), []).append(rule.methods)


def test_open_routes_and_docs(anonymous: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/docs", "/redoc", "/openapi.json"):
        assert anonymous.get(path).status_code == 200, path
    spec = anonymous.get("/openapi.json").json()
    scheme = spec["components"]["securitySchemes"][auth.SCHEME_NAME]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert spec["paths"]["/healthz"]["get"]["security"] == []
    events = spec["paths"]["/v1/events"]["post"]
    assert events["security"] == [{auth.SCHEME_NAME: []}]
    assert {"401", "403", "429"} <= set(events["responses"])
    assert "Roles: admin, ingest." in events["description"]


def test_keys_api_create_list_revoke(anonymous: TestClient, keys: dict[Role, str]) -> None:
    admin = _as(keys[Role.ADMIN])
    made = anonymous.post("/v1/keys", json={"role": "analyst", "name": "ana"}, headers=admin)
    assert made.status_code == 201, made.text
    body = made.json()
    token, key_id = body["key"], body["key_id"]
    assert token.startswith(f"rw_{key_id}_") and body["role"] == "analyst"
    assert anonymous.get("/v1/rings", headers=_as(token)).status_code == 200

    listed = anonymous.get("/v1/keys", headers=admin)
    assert listed.status_code == 200
    mine = [k for k in listed.json()["items"] if k["key_id"] == key_id]
    assert mine and mine[0]["name"] == "ana" and not mine[0]["revoked"]
    assert token.split("_", 2)[2] not in listed.text and "hash" not in mine[0]

    assert anonymous.delete(f"/v1/keys/{key_id}", headers=admin).status_code == 204
    refused = anonymous.get("/v1/rings", headers=_as(token))
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid or revoked API key"
    assert anonymous.delete(f"/v1/keys/{key_id}", headers=admin).status_code == 204  # idempotent
    assert anonymous.delete("/v1/keys/0123456789abcdef", headers=admin).status_code == 404
    revoked = anonymous.get("/v1/keys", headers=admin).json()["items"]
    assert [k["revoked"] for k in revoked if k["key_id"] == key_id] == [True]

    bad = anonymous.post("/v1/keys", json={"role": "root"}, headers=admin)
    assert bad.status_code == 422
    escalate = anonymous.post("/v1/keys", json={"role": "admin"}, headers=_as(keys[Role.ANALYST]))
    assert _refused_by_role(escalate)


def test_rate_limit_answers_429_with_retry_after(app: FastAPI, anonymous: TestClient) -> None:
    key = key_for(app, Role.ENFORCEMENT, rate_limit=3)
    answers = [anonymous.get("/v1/verdicts", headers=_as(key)) for _ in range(5)]
    codes = [r.status_code for r in answers]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429], codes
    retry = int(answers[3].headers["Retry-After"])
    assert retry == 1
    # Other keys are not affected by one key's limit.
    other = key_for(app, Role.ENFORCEMENT, rate_limit=3)
    assert anonymous.get("/v1/verdicts", headers=_as(other)).status_code == 200
    time.sleep(retry)
    assert anonymous.get("/v1/verdicts", headers=_as(key)).status_code == 200


def test_role_default_limits(app: FastAPI) -> None:
    services = app.state.services
    limits = _settings(Path("/x"), rate_limit_per_s=20, rate_limit_ingest_per_s=50)
    ks = KeyService(services.redis, limits)
    ingest = ks.create(Role.INGEST).info
    analyst = ks.create(Role.ANALYST).info
    own = ks.create(Role.ANALYST, rate_limit=7).info
    assert (ks.limit_for(ingest), ks.limit_for(analyst), ks.limit_for(own)) == (50, 20, 7)


def test_keys_are_stored_hashed(app: FastAPI, keys: dict[Role, str]) -> None:
    client = app.state.services.redis
    dump: list[bytes] = []
    for name in client.scan_iter(match="rw:*"):
        kind = client.type(name)
        if kind == b"hash":
            dump.extend(v for pair in client.hgetall(name).items() for v in pair)
        elif kind == b"set":
            dump.extend(client.smembers(name))
        elif kind == b"string":
            dump.append(client.get(name))
    blob = b"\n".join(v for v in dump if v)
    assert blob, "no key records found"
    for token in keys.values():
        key_id, secret = token.split("_", 2)[1:]
        assert key_id.encode() in blob
        assert secret.encode() not in blob and token.encode() not in blob


def test_bootstrap_admin_only_in_development(app: FastAPI, tmp_path: Path) -> None:
    services = app.state.services
    # A Redis database of its own, so "no keys at all" holds for this test.
    pool = services.redis.connection_pool
    fresh = redis.Redis(
        connection_pool=redis.ConnectionPool(
            connection_class=pool.connection_class, **{**pool.connection_kwargs, "db": 3}
        )
    )
    fresh.flushdb()
    try:
        for env in ("test", "production"):
            settings = _settings(tmp_path, env=env, hash_key="p" * 40)
            assert KeyService(fresh, settings).bootstrap_admin() is None
        dev = KeyService(fresh, _settings(tmp_path, env="development"))
        first = dev.bootstrap_admin()
        assert first is not None and first.info.role is Role.ADMIN
        assert dev.authenticate(first.token).role is Role.ADMIN
        dev.revoke(first.info.key_id)
        # Revoking every key later must not bring a new admin back on the next start.
        assert dev.bootstrap_admin() is None
    finally:
        fresh.flushdb()
        fresh.close()


def test_cli_create_list_revoke(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from ringwatch.cli import app as cli
    from ringwatch.services import context

    settings = app.state.services.settings
    monkeypatch.setenv("RINGWATCH_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("RINGWATCH_ENV", "test")
    monkeypatch.setenv("RINGWATCH_HASH_KEY", TEST_KEY.decode())
    # The CLI would stop the engine it found in this process; the module's app still needs it.
    # Patched where the CLI looks it up when a command runs.
    monkeypatch.setattr(
        context,
        "Services",
        lambda s, **fields: type(app.state.services)(s, release_engine=False, **fields),
    )
    runner = CliRunner()
    made = runner.invoke(cli, ["keys", "create", "--role", "decide", "--name", "scorer"])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    assert token.startswith("rw_") and "\n" not in token  # only the key on stdout
    key_id = token.split("_", 2)[1]
    assert KeyService(app.state.services.redis, settings).authenticate(token).name == "scorer"

    listed = runner.invoke(cli, ["keys", "list"])
    assert listed.exit_code == 0 and key_id in listed.stderr and token not in listed.output

    revoked = runner.invoke(cli, ["keys", "revoke", key_id])
    assert revoked.exit_code == 0, revoked.output
    assert runner.invoke(cli, ["keys", "revoke", "0123456789abcdef"]).exit_code == 1
    assert runner.invoke(cli, ["keys", "create", "--role", "root"]).exit_code == 2
