"""Property-based fuzzing of every route in the OpenAPI document (schemathesis), with a key of
each role: no server error, and every response as the document declares it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from ringwatch.api.app import create_app
from ringwatch.api.auth import Role
from ringwatch.settings import Settings
from tests.api.conftest import InlineQueue, key_for
from tests.conftest import TEST_KEY

pytestmark = [pytest.mark.embedded, pytest.mark.slow]

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


@pytest.fixture(scope="module")
def fuzz_app(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    queue = InlineQueue()
    app = create_app(_settings(tmp_path_factory.mktemp("fuzz")), queue)
    queue.app = app
    with TestClient(app, raise_server_exceptions=False) as client:
        keys = {role.value: key_for(app, role) for role in Role}
        yield client, keys


def _settings(folder: Path) -> Settings:
    return Settings(env="test", data_dir=folder / "engine", hash_key=SecretStr(TEST_KEY.decode()))


# The document is the app's own; building it starts nothing (no engine, no lifespan).
schema = schemathesis.openapi.from_dict(
    create_app(_settings(Path("unused")), InlineQueue()).openapi()
)


@schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_responses_as_documented(
    case: Any, fuzz_app: tuple[TestClient, dict[str, str]]
) -> None:
    client, keys = fuzz_app
    for role in keys:
        headers = {**(case.headers or {}), "Authorization": f"Bearer {keys[role]}"}
        kwargs = case.as_transport_kwargs(headers=headers)
        kwargs.pop("base_url", None)
        response = client.request(**kwargs)
        case.validate_response(response, checks=CHECKS, headers=headers)
