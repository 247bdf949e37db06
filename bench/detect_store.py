"""Detection through a real store: ingest a world, then time snapshot export, in-memory detection
and write-back separately, on the embedded engine and on Neo4j.

    .venv/bin/python bench/detect_store.py --accounts 100000 --engines embedded,neo4j
    .venv/bin/python bench/detect_store.py --shape social --accounts 8078 --engines embedded

`--shape social` is a dense friend graph (bench/social.py: preferential attachment, ~22 friend
relations per account) instead of a generated world: the shape whose `detect --full` took 12
minutes in issue 13. The embedded run also times an engine restart after ingest (`restart_s`):
what a new `ringwatch detect` process pays before its first query.

Neo4j must be running (`bash scripts/neo4j.sh start`); its graph is cleared first, so point
--neo4j-uri at an instance nobody else is using. Prints a table and writes
bench/results/detect_store.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from machine import machine_info  # noqa: E402  # bench/machine.py, beside this script

from ringwatch.identity import Pseudonymiser  # noqa: E402
from ringwatch.services.detection import DetectionService  # noqa: E402
from ringwatch.services.ingest import IngestService  # noqa: E402
from ringwatch.services.intake import Intake  # noqa: E402
from ringwatch.settings import Settings  # noqa: E402


def world(accounts: int, seed: int, shape: str = "world") -> Path:
    if shape == "social":
        from social import write_social_world  # bench/social.py, beside this script

        out = REPO / ".local" / "bench" / f"social-{accounts}-{seed}"
        if not (out / "events.jsonl").exists():
            write_social_world(out / "events.jsonl", accounts, 11, seed)
        return out
    out = REPO / ".local" / "bench" / f"world-{accounts}-{seed}"
    if not (out / "events.jsonl").exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "ringwatch",
                "synth",
                str(out),
                "--accounts",
                str(accounts),
                "--seed",
                str(seed),
            ],
            check=True,
            cwd=REPO,
        )
    return out


def run(engine: str, events: Path, args: argparse.Namespace) -> dict[str, Any]:
    from ringwatch.graph.factory import open_redis, open_store, release

    data = Path(tempfile.mkdtemp(prefix=f"rw-bench-{engine}-"))
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data,
        neo4j_uri=args.neo4j_uri if engine == "neo4j" else None,
        neo4j_password=args.neo4j_password,
        redis_url=args.redis_url if engine == "neo4j" else None,
    )
    store = open_store(settings)
    client = open_redis(settings)
    if engine == "neo4j":
        store.clear()
        client.flushdb()
        store.ensure_schema()
    hasher = Pseudonymiser(b"bench-detect-store-key-0123456789")
    ingest = IngestService(store, Intake(client, 30), hasher, 2000)
    with open(events, "rb") as handle:
        lines = sum(1 for _ in handle)
    t = time.perf_counter()
    report = ingest.ingest_file(events)
    ingest_s = time.perf_counter() - t
    restart_s = None
    if engine == "embedded":
        store.close()
        client.close()
        release(settings)  # compacts the engine's log, as a CLI process does when it exits
        t = time.perf_counter()
        store = open_store(settings)
        restart_s = round(time.perf_counter() - t, 1)
        client = open_redis(settings)
    service = DetectionService(store, seed=0)
    _, first = service.run_full()
    _, second = service.run_full()  # a steady-state run: rings exist, ids are matched
    out = {
        "engine": engine,
        "events": lines,
        "accepted": report.accepted,
        "ingest_s": round(ingest_s, 1),
        "ingest_events_per_s": round(report.accepted / ingest_s),
        "restart_s": restart_s,
        "accounts": first.accounts,
        "first_run_s": first.seconds,
        "second_run_s": second.seconds,
        "rings": first.rings,
    }
    store.close()
    client.close()
    release(settings)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--accounts", type=int, default=100_000, help="world size (default 100,000)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--shape", choices=("world", "social"), default="world", help="what graph to build"
    )
    parser.add_argument(
        "--engines", default="embedded,neo4j", help="comma-separated: embedded,neo4j"
    )
    parser.add_argument("--neo4j-uri", default="bolt://127.0.0.1:7688")
    parser.add_argument(
        "--neo4j-password", default=os.environ.get("NEO4J_PASSWORD", "ringwatch-test-password")
    )
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6380/9", help="Redis for the neo4j run"
    )
    parser.add_argument("--out", type=Path, help="default bench/results/detect_store[_social].json")
    args = parser.parse_args()
    if args.out is None:
        suffix = "_social" if args.shape == "social" else ""
        args.out = REPO / "bench" / "results" / f"detect_store{suffix}.json"
    load_before = os.getloadavg()
    events = world(args.accounts, args.seed, args.shape) / "events.jsonl"
    results = [run(engine, events, args) for engine in args.engines.split(",")]
    print(
        f"\n{'engine':<10}{'events/s':>10}{'snapshot s':>12}{'detect s':>10}"
        f"{'write s':>10}{'2nd write s':>13}{'restart s':>11}"
    )
    for r in results:
        f, s = r["first_run_s"], r["second_run_s"]
        print(
            f"{r['engine']:<10}{r['ingest_events_per_s']:>10,}{f['snapshot']:>12.1f}{f['detect']:>10.1f}"
            f"{f['write_back']:>10.1f}{s['write_back']:>13.1f}"
            f"{r['restart_s'] if r['restart_s'] is not None else '-':>11}"
        )
    payload = {
        "machine": machine_info(load_before),
        "accounts": args.accounts,
        "seed": args.seed,
        "shape": args.shape,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
