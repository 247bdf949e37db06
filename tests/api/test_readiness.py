"""/readyz says whether the live and shadow strategies load, checked from start-up on."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from ringwatch.api.app import create_app
from ringwatch.settings import PACKAGED_STRATEGIES, Settings
from tests.api.conftest import InlineQueue


def ready(settings: Settings) -> tuple[int, dict[str, object]]:
    with TestClient(create_app(settings, InlineQueue())) as client:
        r = client.get("/readyz")
        return r.status_code, r.json()


def test_packaged_default_strategy_is_used_when_nothing_is_configured(
    embedded_settings: Settings,
) -> None:
    assert embedded_settings.strategies_dir == PACKAGED_STRATEGIES
    assert (PACKAGED_STRATEGIES / "default.yaml").is_file()
    status, body = ready(embedded_settings)
    assert status == 200
    assert body["checks"] == {"store": "ok", "redis": "ok", "strategies": "ok"}


def test_missing_shadow_strategy_makes_the_api_unready(embedded_settings: Settings) -> None:
    settings = embedded_settings.model_copy(update={"shadow_strategies": ("no-such-candidate",)})
    status, body = ready(settings)
    assert status == 503
    checks = body["checks"]
    assert isinstance(checks, dict)
    assert "no-such-candidate" in checks["strategies"]
    assert checks["store"] == "ok"


def test_own_directory_overrides_the_packaged_one(
    embedded_settings: Settings, tmp_path: Path
) -> None:
    own = tmp_path / "strategies"
    own.mkdir()
    text = (PACKAGED_STRATEGIES / "default.yaml").read_text()
    (own / "house.yaml").write_text(text.replace("id: default", "id: house", 1))
    settings = embedded_settings.model_copy(update={"strategies_dir": own})
    status, body = ready(settings.model_copy(update={"live_strategy": "house"}))
    assert status == 200, body
    status, body = ready(settings)  # "default" is not in the deployment's own directory
    assert status == 503
