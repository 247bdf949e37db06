"""The built wheel, installed outside the repository, serves decisions from an empty directory."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.ops.procs import free_port, left_behind, start_serve

REPO = Path(__file__).parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.embedded]


def _build_wheel(tmp: Path) -> Path:
    # From a copy: an in-tree build would leave build/ behind and could package stale files.
    src = tmp / "src"
    shutil.copytree(
        REPO,
        src,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".local", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
        ),
    )
    out = tmp / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)],
        check=True,
    )
    (wheel,) = out.glob("ringwatch-*.whl")
    return wheel


def test_installed_wheel_serves_a_decision(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin/pip"), "install", "-q", "-c", str(REPO / "constraints.txt"), str(wheel)],
        check=True,
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RINGWATCH_", "PYTHON"))}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["RINGWATCH_DATA_DIR"] = str(empty / "data")
    ringwatch = [str(venv / "bin/ringwatch")]
    made = subprocess.run(
        [*ringwatch, "keys", "create", "--role", "decide", "--name", "wheel-test"],
        cwd=empty,
        env=env,
        capture_output=True,
        check=True,
    )
    token = made.stdout.decode().strip().splitlines()[-1]
    port = free_port()
    serve = start_serve(ringwatch, empty, env, port, "--no-worker")
    try:
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=30)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["strategies"] == "ok"
        response = httpx.post(
            f"http://127.0.0.1:{port}/v1/decisions",
            headers={"Authorization": f"Bearer {token}"},
            json={"account_id": "acct-wheel-1", "checkpoint": "signup"},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        decision = response.json()
        assert decision["strategy"].split("@")[0] == "default"
        assert decision["action"]
        # The strategy came from the installed package, not from a directory beside the command.
        assert sorted(p.name for p in empty.iterdir() if p.name != "serve.log") == ["data"]
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=120)
    assert left_behind(empty / "data") == []
