"""A sharded full run through a real Celery worker process on Redis: the `detect.shard` tasks
run in the worker (the coordinator does not help), and the merged result is `detect()`'s."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from ringwatch.detectors.pipeline import DetectParams, detect
from ringwatch.errors import Unavailable
from ringwatch.services import tasks
from ringwatch.services.fanout import FanOut
from ringwatch.settings import Settings
from tests.conftest import REDIS_URL
from tests.detectors.worlds import cached_world
from tests.services.fanout_cases import check_same, hand_built
from tests.workers.processes import stop

pytestmark = [pytest.mark.redis, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
DB = 5


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    if not REDIS_URL:
        pytest.skip("needs Redis (RINGWATCH_TEST_REDIS_URL)")
    redis.Redis.from_url(str(REDIS_URL), db=DB).flushdb()
    return Settings(
        _env_file=None,
        env="test",
        redis_url=f"{REDIS_URL}/{DB}",
        data_dir=tmp_path / "data",
        detection_runs_dir=tmp_path / "runs",
        detection_shards=2,
    )  # type: ignore[call-arg]


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "RINGWATCH_ENV": "test",
        "RINGWATCH_REDIS_URL": str(settings.redis_url),
        "RINGWATCH_DATA_DIR": str(settings.data_dir),
        "RINGWATCH_DETECTION_RUNS_DIR": str(settings.detection_runs_root),
    }
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - the worker outlives this call
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "ringwatch.workers.app", "worker",
         "--concurrency=2", "--loglevel=INFO", "-n", "fanout@%h"],
        env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    yield proc
    stop(proc)


def fan_out(settings: Settings, timeout_s: float = 300) -> FanOut:
    client = tasks.celery_client(settings)
    return FanOut(
        settings.detection_runs_root,
        settings.detection_shards,
        send=lambda run_id, part: tasks.send(client, tasks.DETECT_SHARD, run_id, part),
        timeout_s=timeout_s,
        help_idle=False,  # the worker must do the shards
    )


def test_worker_runs_the_shards_and_the_result_is_detects(
    settings: Settings, worker: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    params = DetectParams(leiden_batch_nodes=2)
    snap = hand_built()
    got = fan_out(settings).detect(snap, seed=1, params=params)
    check_same(got, detect(snap, seed=1, params=params))
    assert {"shard.evaders.cpu", "shard.leiden-0.cpu", "shard.leiden-1.cpu"} <= set(got.timings)

    world, _ = cached_world(1, 20_000, "default")
    params = DetectParams(leiden_batch_nodes=400)
    check_same(
        fan_out(settings).detect(world, seed=3, params=params),
        detect(world, seed=3, params=params),
    )
    assert "detect.shard" in (tmp_path / "worker.log").read_text()


def test_no_worker_fails_the_run_with_a_clear_error(settings: Settings) -> None:
    with pytest.raises(Unavailable, match="is a worker consuming"):
        fan_out(settings, timeout_s=1).detect(hand_built())
    assert list(settings.detection_runs_root.iterdir()) == []
