"""Sharded full detection (services/fanout.py) on 1 vs 2 Celery worker processes, next to the
single-process `detect()` on the same world in the same run.

    .venv/bin/python bench/fanout.py --accounts 100000 --redis-url redis://127.0.0.1:6431/6

Per configuration: wall seconds, CPU seconds of the coordinator (this process) and of every
worker process (the prefork children of `celery worker --concurrency N`), per-stage seconds of
the coordinator and per part of the shards, and the load average at start and end. The sharded
result is checked equal to `detect()`'s. On a shared 2-core machine the CPU seconds are the
robust number; the wall clock measures the neighbours as much as the code.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.machine import machine_info
from ringwatch.detectors.pipeline import DetectParams, detect
from ringwatch.services import tasks
from ringwatch.services.fanout import FanOut
from ringwatch.settings import Settings
from tests.detectors.worlds import cached_world

REPO = Path(__file__).resolve().parents[1]


def worker_cpu(proc: psutil.Process) -> dict[int, float]:
    """CPU seconds (user + system) of the worker's main process and each pool child."""
    out: dict[int, float] = {}
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            out[p.pid] = t.user + t.system
        except psutil.NoSuchProcess:
            continue
    return out


def start_worker(settings: Settings, concurrency: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "RINGWATCH_ENV": "test",
        "RINGWATCH_REDIS_URL": str(settings.redis_url),
        "RINGWATCH_DATA_DIR": str(settings.data_dir),
        "RINGWATCH_DETECTION_RUNS_DIR": str(settings.detection_runs_root),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "ringwatch.workers.app", "worker",
         f"--concurrency={concurrency}", "--loglevel=WARNING", "-n", f"bench{concurrency}@%h"],
        env=env, cwd=REPO, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def sharded_run(
    settings: Settings, snapshot: Any, params: DetectParams, seed: int, concurrency: int
) -> tuple[Any, dict[str, Any]]:
    client = tasks.celery_client(settings)
    fan = FanOut(
        settings.detection_runs_root,
        settings.detection_shards,
        send=lambda run_id, part: tasks.send(client, tasks.DETECT_SHARD, run_id, part),
        timeout_s=3600,
        help_idle=False,  # what the workers do, not the coordinator
    )
    log = settings.data_dir / f"worker-{concurrency}.log"
    proc = start_worker(settings, concurrency, log)
    try:
        # Warm-up: the pool's processes import Ringwatch and numpy once, outside the timing.
        from tests.services.test_fanout import hand_built

        fan.detect(hand_built(), seed=seed, params=params)
        worker = psutil.Process(proc.pid)
        cpu_before = worker_cpu(worker)
        load_start = os.getloadavg()
        t0, c0 = time.perf_counter(), time.process_time()
        result = fan.detect(snapshot, seed=seed, params=params)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        cpu_after = worker_cpu(worker)
        load_end = os.getloadavg()
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=60)
    per_worker = {
        str(pid): round(cpu_after[pid] - cpu_before.get(pid, 0.0), 3) for pid in sorted(cpu_after)
    }
    return result, {
        "workers": concurrency,
        "shards": settings.detection_shards,
        "wall_s": round(wall, 3),
        "cpu_s": {
            "coordinator": round(cpu, 3),
            "worker_processes": per_worker,
            "workers_total": round(sum(per_worker.values()), 3),
            "total": round(cpu + sum(per_worker.values()), 3),
        },
        "stages_s": {k: v for k, v in result.timings.items() if not k.startswith("shard.")},
        "parts_s": {k: v for k, v in result.timings.items() if k.startswith("shard.")},
        "loadavg_start": load_start,
        "loadavg_end": load_end,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--world-seed", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--redis-url", required=True, help="a Redis of your own (a db it may flush)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument(
        "--world-dir",
        type=Path,
        default=None,
        help="a cached world's folder (its snapshot.pkl) instead of cached_world(): e.g. one "
        "built by an earlier generator, for timing only",
    )
    args = ap.parse_args()

    load_before = os.getloadavg()
    if args.world_dir is not None:
        with (args.world_dir / "snapshot.pkl").open("rb") as fh:
            snapshot = pickle.load(fh)  # our own cache, written by tests/detectors/worlds.py
        args.accounts = snapshot.n_accounts
    else:
        snapshot, _ = cached_world(args.world_seed, args.accounts, "default")
    params = DetectParams()
    redis.Redis.from_url(args.redis_url).flushdb()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ringwatch-fanout-") as tmp:
        settings = Settings(
            _env_file=None,
            env="test",
            redis_url=args.redis_url,
            data_dir=Path(tmp),
            detection_runs_dir=Path(tmp) / "runs",
            detection_shards=args.shards,
        )  # type: ignore[call-arg]
        for rep in range(args.repeat):
            load_start = os.getloadavg()
            t0, c0 = time.perf_counter(), time.process_time()
            baseline = detect(snapshot, seed=args.seed, params=params)
            rows.append(
                {
                    "config": "detect() in one process",
                    "repeat": rep,
                    "wall_s": round(time.perf_counter() - t0, 3),
                    "cpu_s": {"total": round(time.process_time() - c0, 3)},
                    "stages_s": baseline.timings,
                    "loadavg_start": load_start,
                    "loadavg_end": os.getloadavg(),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
            for n in args.workers:
                result, row = sharded_run(settings, snapshot, params, args.seed, n)
                row["config"] = f"sharded, {n} worker process(es)"
                row["repeat"] = rep
                row["identical_to_detect"] = result == baseline
                rows.append(row)
                print(json.dumps(row), flush=True)
                if not row["identical_to_detect"]:
                    raise SystemExit("sharded result differs from detect()")
    out = args.out or REPO / "bench" / "results" / f"fanout-{args.accounts // 1000}k.json"
    report = {
        "benchmark": "fanout",
        "accounts": args.accounts,
        "world": str(args.world_dir.name) if args.world_dir else f"default:{args.world_seed}",
        "seed": args.seed,
        "shards": args.shards,
        "rings": len(baseline.rings),
        "runs": rows,
        "machine": machine_info(load_before),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{'config':<36} {'wall s':>8} {'CPU coord':>10} {'CPU workers':>12} {'load':>12}")
    for r in rows:
        cpu = r["cpu_s"]
        print(
            f"{r['config']:<36} {r['wall_s']:>8.2f} "
            f"{cpu.get('coordinator', cpu['total']):>10.2f} {cpu.get('workers_total', 0.0):>12.2f}"
            f" {r['loadavg_start'][0]:>5.1f}->{r['loadavg_end'][0]:<5.1f}"
        )
    print(f"written to {out}")


if __name__ == "__main__":
    main()
