"""Keys for API tests: every route needs one (docs/security.md).

- `grant(client, role)` makes a key on the client's app and sends it on every request; call it
  in a module's own `client` fixture (admin by default), as test_events_api.py does.
- `client_as(role)` gives a second client on the same app with a key of that role, for checks
  that a role is refused (or allowed): the app of the module's `client` fixture, else of
  `api_client`.
- `api_client` is a ready app on the embedded engine (batches applied inline) with an admin key,
  for modules that need nothing special.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ringwatch.api.app import create_app
from ringwatch.api.auth import Role
from ringwatch.services.keys import KeyService
from ringwatch.settings import Settings

__all__ = ["InlineQueue", "Role", "grant", "key_for"]


class InlineQueue:
    """Applies batches at once, so tests see the graph the workers would write."""

    def __init__(self) -> None:
        self.app: FastAPI | None = None

    def enqueue(self, batch_id: str) -> None:
        assert self.app is not None
        self.app.state.services.ingest.apply(batch_id)


def key_for(app: FastAPI, role: Role | str = Role.ADMIN, *, rate_limit: int | None = None) -> str:
    """A new key of `role` on a started app (inside `with TestClient(app)`)."""
    services = app.state.services
    keys = KeyService(services.redis, services.settings)
    return keys.create(role, f"tests ({role})", rate_limit, created_by="tests").token


def grant(client: TestClient, role: Role | str = Role.ADMIN) -> TestClient:
    client.headers["Authorization"] = f"Bearer {key_for(client.app, role)}"  # type: ignore[arg-type]
    return client


@pytest.fixture
def client_as(request: pytest.FixtureRequest) -> Iterator[Callable[[Role | str], TestClient]]:
    try:
        client: TestClient = request.getfixturevalue("client")
    except pytest.FixtureLookupError:
        client = request.getfixturevalue("api_client")
    opened: list[TestClient] = []

    def make(role: Role | str) -> TestClient:
        # Not entered as a context manager: the app's lifespan already runs under `client`.
        other = TestClient(client.app, raise_server_exceptions=False)
        opened.append(grant(other, role))
        return other

    yield make
    for c in opened:
        c.close()


@pytest.fixture
def api_client(embedded_settings: Settings) -> Iterator[TestClient]:
    queue = InlineQueue()
    app = create_app(embedded_settings, queue)
    queue.app = app
    with TestClient(app) as c:
        yield grant(c)


FARM = tuple(f"farm{i}" for i in range(6))


@pytest.fixture
def farm_client(embedded_settings: Settings) -> Iterator[TestClient]:
    """An admin client on an app whose graph holds a six-account device farm, already detected
    (one ring, its changes in the feed)."""
    from ringwatch.services.detection import DetectionService
    from tests.events import signup

    queue = InlineQueue()
    app = create_app(embedded_settings, queue)
    queue.app = app
    with TestClient(app) as c:
        grant(c)
        farm = [
            signup(f"s{i}", a, ts=f"2026-03-01T10:{i:02d}:00Z", device_id="emu", card="c1")
            for i, a in enumerate(FARM)
        ]
        assert c.post("/v1/events", json=farm).status_code == 202
        DetectionService(app.state.services.store).run_full()
        yield c
