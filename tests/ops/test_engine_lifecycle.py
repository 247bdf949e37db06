"""A command that starts the embedded engine stops it when it ends, however it ends."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.ops.procs import (
    engine_running,
    free_port,
    left_behind,
    ringwatch_command,
    start_serve,
    wait_for,
)

pytestmark = pytest.mark.embedded

RW = ringwatch_command()


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGWATCH_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["RINGWATCH_DATA_DIR"] = str(data_dir)
    return env


@pytest.mark.parametrize("extra", [("--no-worker",), ("--worker",)], ids=["api", "api+worker"])
def test_serve_stopped_with_sigterm_leaves_nothing(tmp_path: Path, extra: tuple[str, ...]) -> None:
    data = tmp_path / "data"
    serve = start_serve(RW, tmp_path, _env(data), free_port(), *extra)
    assert engine_running(data), "serve should have started the embedded engine"
    serve.send_signal(signal.SIGTERM)
    serve.wait(timeout=120)
    assert left_behind(data) == []


def test_serve_killed_outright_leaves_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    serve = start_serve(RW, tmp_path, _env(data), free_port(), "--no-worker")
    assert engine_running(data)
    serve.kill()  # no handler, no atexit: only the watchdog can clean up
    serve.wait()
    wait_for(lambda: left_behind(data) == [], "the engine to stop after its owner was killed")


def test_engine_whose_data_dir_is_removed_stops(tmp_path: Path) -> None:
    data = tmp_path / "data"
    serve = start_serve(RW, tmp_path, _env(data), free_port(), "--no-worker")
    try:
        assert engine_running(data)
        shutil.rmtree(data)
        wait_for(lambda: not engine_running(data), "the engine to stop without its data dir")
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=120)
    assert left_behind(data) == []


def test_ingest_and_detect_leave_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = _env(data)
    world = tmp_path / "world"
    subprocess.run(
        [*RW, "synth", str(world), "--accounts", "300", "--seed", "3"], env=env, check=True
    )
    for args in (["ingest", str(world / "events.jsonl")], ["detect"]):
        done = subprocess.run([*RW, *args], env=env, cwd=tmp_path, capture_output=True)
        assert done.returncode == 0, done.stderr.decode()[-3000:]
        assert (data / "appendonly.aof").exists() or any(data.iterdir())
        assert left_behind(data) == [], args


def test_ingest_stopped_with_sigterm_leaves_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = _env(data)
    world = tmp_path / "world"
    subprocess.run(
        [*RW, "synth", str(world), "--accounts", "3000", "--seed", "4"], env=env, check=True
    )
    ingest = subprocess.Popen(
        [*RW, "ingest", str(world / "events.jsonl")],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: engine_running(data) or ingest.poll() is not None, "ingest to start")
    ingest.send_signal(signal.SIGTERM)
    ingest.wait(timeout=120)
    assert left_behind(data) == []
