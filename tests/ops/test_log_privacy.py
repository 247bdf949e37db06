"""No log line of an ingest, a detection run and decisions holds a raw identifier."""

from __future__ import annotations

import logging
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from ringwatch.api.app import create_app
from ringwatch.logs import JsonFormatter
from ringwatch.services.detection import DetectionService
from ringwatch.settings import Settings
from ringwatch.worlds import generate
from tests.api.conftest import InlineQueue, key_for

pytestmark = pytest.mark.embedded
RAW_KINDS = ("email", "phone", "ip", "device_id", "card")


def test_logs_of_a_run_hold_no_raw_identifier(
    embedded_settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    generate(tmp_path / "world", 300, 5, "heavy-fraud")
    events = [
        orjson.loads(line)
        for line in (tmp_path / "world/events.jsonl").read_bytes().split(b"\n")
        if line
    ]
    raw = {str(e[k]) for e in events for k in RAW_KINDS if e.get(k)}
    assert len(raw) > 300  # the check below must have something to find
    caplog.set_level(logging.DEBUG)
    queue = InlineQueue()
    app = create_app(embedded_settings, queue)
    queue.app = app
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {key_for(app, rate_limit=100_000)}"
        # Some events invalid on purpose: rejections are where a raw value is most tempting to log.
        broken = [{**e, "ts": "not-a-time"} for e in events[:20]]
        r = client.post("/v1/events", json=[*events, *broken])
        assert r.status_code == 202, r.text
        assert r.json()["accepted"] == len(events)
        DetectionService(app.state.services.store).run_full()
        accounts = sorted({e["account_id"] for e in events})[:30]
        for account in accounts:
            d = client.post("/v1/decisions", json={"account_id": account, "checkpoint": "login"})
            assert d.status_code == 200, d.text
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    assert lines, "nothing was logged: the check would pass vacuously"
    leaks = [(value, line) for line in lines for value in raw if value in line]
    assert leaks == []
