"""The incremental detection task: accounts its run could not cover go back to the dirty set."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from ringwatch.graph.store import GraphStore
from ringwatch.identity import Pseudonymiser
from ringwatch.services import detection, tasks
from ringwatch.services.context import Services
from ringwatch.services.detection_queue import DetectionQueue
from ringwatch.settings import Settings
from ringwatch.workers import detect as detect_tasks
from ringwatch.workers.app import make_celery
from tests.events import signup
from tests.services.histories import chain, ingest

pytestmark = [pytest.mark.embedded, pytest.mark.redis]


def test_accounts_past_the_scopes_limit_go_back_for_the_next_run(
    falkordb_store: GraphStore,
    redis_client: redis.Redis,
    hasher: Pseudonymiser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """a's neighbourhood (a chain through a device, an address, a card and an address) has
    five accounts, x's (a shared device) two; with room for six, the run covers a and puts x
    back, and asks for another run."""
    pair = [signup("s-x", "x", device_id="d-xy"), signup("s-y", "y", device_id="d-xy")]
    ingest(falkordb_store, hasher, "b-two", [*chain(), *pair])
    settings = Settings(_env_file=None, env="test")  # type: ignore[call-arg]
    app = make_celery(settings)
    services = Services(settings)
    # The test's store and Redis stand in for the ones the settings would open.
    services.__dict__.update(store=falkordb_store, redis=redis_client)
    app.__dict__["services"] = services
    sent: list[str] = []
    monkeypatch.setattr(tasks, "send", lambda _app, name, *a, **k: sent.append(name))
    monkeypatch.setattr(detection, "MAX_INCREMENTAL_SCOPE", 6)
    queue = DetectionQueue(redis_client)
    queue.mark_dirty(["a", "x"])

    out: dict[str, Any] = detect_tasks.detect_incremental.apply().get()

    assert (out["accounts"], out["deferred"], out["complete"]) == (5, 1, True)
    assert queue.take_dirty(10) == ["x"]
    assert sent == [tasks.DETECT_INCREMENTAL]
