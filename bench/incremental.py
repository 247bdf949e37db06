"""Incremental detection on the embedded engine: what a worker pays after each ingested batch.

Every applied batch schedules an incremental run over the accounts it changed
(`workers/ingest.py`): the scope is expanded from them through rare identifiers, read, detected
and written back. This loads a generated world into a fresh embedded engine, runs one full
detection, then times incremental runs each seeded with the accounts of one batch of the
world's events, as the worker would. With `--base TREE` the same runs are made by another
tree's ringwatch, in alternating fresh processes, for a baseline of the same session:

    git archive a86d054 | tar -x -C /tmp/base
    .venv/bin/python bench/incremental.py --accounts 20000 --base /tmp/base

Prints one JSON line per run and a summary; writes bench/results/incremental.json (`--out`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from machine import alternating, machine_info, run_in_tree, trees, write_result  # noqa: E402

KEY = b"bench-incremental-key-0123456789abcdef"


def _engine_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child(events: Path, engine_dir: Path, batch_events: int, runs: int) -> None:
    # Imported here: the parent put this tree's ringwatch first on the path.
    from ringwatch.events import parse_event
    from ringwatch.graph.embedded import embedded_server
    from ringwatch.graph.falkordb_store import FalkorDBStore
    from ringwatch.graph.store import Batch
    from ringwatch.identity import Pseudonymiser
    from ringwatch.records import normalise
    from ringwatch.services.detection import DetectionService

    server = embedded_server(engine_dir)
    try:
        store = FalkorDBStore(server.client(), "bench")
        store.ensure_schema()
        hasher = Pseudonymiser(KEY)
        raw = [orjson.loads(line) for line in events.read_bytes().splitlines()]
        batches = [raw[i : i + batch_events] for i in range(0, len(raw), batch_events)]
        started = time.perf_counter()
        for number, chunk in enumerate(batches):
            records = [normalise(parse_event(e), hasher) for e in chunk]
            store.apply_batch(Batch(f"b{number}", records))
        load_s = time.perf_counter() - started
        service = DetectionService(store, seed=1)
        started = time.perf_counter()
        service.run_full()
        full_s = time.perf_counter() - started
        pid = server.process.pid if server.process is not None else None
        out: list[dict[str, Any]] = []
        # The last batches of the world: accounts with histories, as in a running deployment.
        for chunk in batches[-runs:]:
            changed = sorted({str(e["account_id"]) for e in chunk})
            engine_before = _engine_cpu_s(pid) if pid else 0.0
            cpu_before, started = time.process_time(), time.perf_counter()
            try:
                ran = service.run_incremental(changed)
            except Exception as e:  # a failed run is a result here
                # The code before 8fb8d2e: its scope expansion overran the engine's 60 s query
                # timeout from 10k accounts on.
                out.append(
                    {
                        "changed": len(changed),
                        "error": f"{type(e).__name__}: {e}",
                        "wall_s": round(time.perf_counter() - started, 3),
                    }
                )
                continue
            wall = time.perf_counter() - started
            assert ran is not None
            summary = ran[1]
            out.append(
                {
                    "changed": len(changed),
                    "scope": summary.accounts,
                    "complete": summary.complete,
                    "wall_s": round(wall, 3),
                    "client_cpu_s": round(time.process_time() - cpu_before, 3),
                    "engine_cpu_s": round(_engine_cpu_s(pid) - engine_before, 3) if pid else None,
                    "seconds": summary.seconds,
                }
            )
        result = {"load_s": round(load_s, 1), "full_s": round(full_s, 1), "runs": out}
        print(orjson.dumps(result).decode())
    finally:
        server.stop()


def _median(values: list[Any]) -> Any:
    return statistics.median(values) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000, help="world size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch-events", type=int, default=2000, help="events per batch")
    parser.add_argument("--runs", type=int, default=3, help="incremental runs per process")
    parser.add_argument("--rounds", type=int, default=1, help="processes per tree")
    parser.add_argument("--base", type=Path, help="a tree with the old ringwatch/ to compare")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/incremental.json")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--events", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--engine-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.events, args.engine_dir, args.batch_events, args.runs)
        return

    from ringwatch.worlds import generate

    load_before = os.getloadavg()
    codes = trees(args.base)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-incremental-") as name:
        tmp = Path(name)
        world = generate(tmp / "world", args.accounts, args.seed)
        for round_, code in alternating(codes, args.rounds):
            engine_dir = tmp / f"engine-{code}-{round_}"
            result = {"code": code, "round": round_} | run_in_tree(
                __file__,
                codes[code],
                "--events",
                str(world.events_path),
                "--engine-dir",
                str(engine_dir),
                "--batch-events",
                str(args.batch_events),
                "--runs",
                str(args.runs),
            )
            results.append(result)
            print(orjson.dumps(result).decode(), flush=True)
    summary = {
        code: {
            "failed": sum(
                "error" in run for r in results if r["code"] == code for run in r["runs"]
            ),
            **{
                key: _median(
                    [
                        run[key]
                        for r in results
                        if r["code"] == code
                        for run in r["runs"]
                        if "error" not in run
                    ]
                )
                for key in ("wall_s", "client_cpu_s", "engine_cpu_s", "scope")
            },
        }
        for code in codes
    }
    print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    write_result(
        args.out,
        {
            "bench": "incremental",
            "accounts": args.accounts,
            "seed": args.seed,
            "batch_events": args.batch_events,
            "results": results,
            "median": summary,
            "machine": machine_info(load_before),
        },
    )


if __name__ == "__main__":
    main()
