"""docker-compose.yml against the Compose specification's JSON Schema.

Compose cannot run here, so the file is at least kept valid for users. The schema is not
committed: it is read from the `docker-compose` 1.29.2 wheel (which ships the specification as
compose/config/compose_spec.json), fetched with pip into .local/cache/compose-spec on first use
and checked against its hash. Outside `scripts/test.sh` (so outside `make test`) an unreachable
package index skips the test with the reason; under it, the test fails.
"""

from __future__ import annotations

import copy
import io
import os
import zipfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft7Validator
from ruamel.yaml import YAML

from tests.pinned_wheel import WheelUnavailable, pinned_wheel

REPO = Path(__file__).parents[2]
CACHE = REPO / ".local" / "cache" / "compose-spec"
WHEEL = "docker_compose-1.29.2-py2.py3-none-any.whl"
SHA256 = "8d5589373b35c8d3b1c8c1182c6e4a4ff14bffa3dd0b605fcd08f73c94cef809"
SPEC_IN_WHEEL = "compose/config/compose_spec.json"


def _fetch_wheel() -> Path:
    try:
        return pinned_wheel("docker-compose", "1.29.2", SHA256, WHEEL, CACHE)
    except WheelUnavailable as exc:
        reason = f"cannot fetch the Compose specification: {exc}"
        if os.environ.get("RINGWATCH_TEST_REQUIRE_SERVERS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    with zipfile.ZipFile(_fetch_wheel()) as whl:
        schema: dict[str, Any] = orjson.loads(whl.read(SPEC_IN_WHEEL))
    Draft7Validator.check_schema(schema)
    return schema


def _compose() -> dict[str, Any]:
    # The safe loader resolves the `<<: *ringwatch` merge keys as Compose does.
    loaded: dict[str, Any] = YAML(typ="safe", pure=True).load(
        io.StringIO((REPO / "docker-compose.yml").read_text())
    )
    return loaded


def _problems(schema: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    validator = Draft7Validator(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    ]


def test_docker_compose_yml_follows_the_compose_specification(spec: dict[str, Any]) -> None:
    assert _problems(spec, _compose()) == []


def test_every_ringwatch_service_decides_with_the_same_settings() -> None:
    doc = _compose()
    ours = {k: v for k, v in doc["services"].items() if v.get("image") == "ringwatch:latest"}
    assert set(ours) == {"api", "worker", "beat"}
    envs = [orjson.dumps(v["environment"], option=orjson.OPT_SORT_KEYS) for v in ours.values()]
    assert len(set(envs)) == 1
    assert all(v["command"][0] == "ringwatch" for v in ours.values())


@pytest.mark.parametrize(
    ("break_it", "where"),
    [
        (lambda d: d["services"]["api"].update(helthcheck={}), "services/api"),
        (lambda d: d["services"]["redis"].update(restart=["always"]), "services/redis/restart"),
        (lambda d: d["services"]["api"].update(ports="8080:8080"), "services/api/ports"),
        (lambda d: d.update(service={}), "(top)"),
    ],
)
def test_the_schema_refuses_a_broken_file(spec: dict[str, Any], break_it: Any, where: str) -> None:
    # So the first test can fail: the same file, one mistake users make, is caught where it is.
    doc = copy.deepcopy(_compose())
    break_it(doc)
    problems = _problems(spec, doc)
    assert problems and any(p.startswith(f"{where}:") for p in problems), problems
