"""A serving process (`api.app.serve_app`) moves what it built at start out of the garbage
collector's reach; an app built any other way (tests, tools) leaves the collector alone."""

from __future__ import annotations

import gc

import pytest
from fastapi.testclient import TestClient

from ringwatch.api.app import create_app
from ringwatch.settings import Settings
from tests.api.conftest import InlineQueue

pytestmark = pytest.mark.embedded


@pytest.mark.parametrize("serving", [True, False])
def test_only_a_serving_app_freezes_its_start_up_objects(
    embedded_settings: Settings, serving: bool
) -> None:
    gc.unfreeze()
    try:
        app = create_app(embedded_settings, InlineQueue(), serving=serving)
        with TestClient(app) as client:
            assert client.get("/healthz").status_code == 200
            frozen = gc.get_freeze_count()
        assert (frozen > 0) is serving
    finally:
        gc.unfreeze()
