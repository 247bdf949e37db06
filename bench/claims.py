"""Event-id claims (`Intake.accept`, the dedupe script ingest and `ringwatch load` run per
batch): CPU per event in this process and in Redis, and wall time, on a Redis of your choice.

    bash scripts/redis.sh start          # or any Redis you may flush (db 15 is used)
    .venv/bin/python bench/claims.py --redis-url redis://127.0.0.1:6380/15 --runs 3

Each run flushes the database, then claims `--batches` batches of `--batch-size` fresh events
spread over two days, as a file load does (`keep_payload=False`). Redis CPU comes from its
`INFO cpu` before and after, so other clients of the same server count too: use a quiet one.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.machine import machine_info
from ringwatch.services.intake import Intake

DAY_MS = 86_400_000
START_MS = 1_767_225_600_000


def redis_cpu_s(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def one_run(client: redis.Redis, batches: int, size: int) -> dict[str, Any]:
    client.flushdb()
    intake = Intake(client, dedupe_window_days=30)
    batch_rows = [
        [
            {
                "id": f"evt-{b}-{i:06d}",
                "ts": START_MS + (b * size + i) * (2 * DAY_MS // (batches * size)),
            }
            for i in range(size)
        ]
        for b in range(batches)
    ]
    redis_before, cpu_before, wall_before = (
        redis_cpu_s(client),
        time.process_time(),
        time.perf_counter(),
    )
    for b, rows in enumerate(batch_rows):
        intake.accept(f"file:bench:{b}", rows, keep_payload=False)
    wall = time.perf_counter() - wall_before
    events = batches * size
    return {
        "events": events,
        "client_cpu_us_per_event": round((time.process_time() - cpu_before) / events * 1e6, 2),
        "redis_cpu_us_per_event": round((redis_cpu_s(client) - redis_before) / events * 1e6, 2),
        "wall_us_per_event": round(wall / events * 1e6, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--redis-url", required=True, help="a Redis database this may flush")
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, help="write the runs as JSON here")
    args = parser.parse_args()
    client = redis.Redis.from_url(args.redis_url)
    load_before = os.getloadavg()
    runs = []
    for n in range(args.runs):
        run = one_run(client, args.batches, args.batch_size)
        runs.append(run)
        print(
            f"run {n + 1}: {run['events']:,} events, client {run['client_cpu_us_per_event']} us, "
            f"redis {run['redis_cpu_us_per_event']} us, wall {run['wall_us_per_event']} us "
            "per event",
            flush=True,
        )
    client.flushdb()
    if args.out:
        args.out.write_text(
            json.dumps(
                {"benchmark": "claims", "runs": runs, "machine": machine_info(load_before)},
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
