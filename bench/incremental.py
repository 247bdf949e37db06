"""Incremental detection on the embedded engine: what a worker pays after each ingested batch.

Every applied batch schedules an incremental run over the accounts it changed
(`workers/ingest.py`): the scope is expanded from them through rare identifiers, read, detected
and written back. This loads a generated world into a fresh embedded engine, runs one full
detection, then times incremental runs each seeded with the accounts of one batch of the
world's events, as the worker would. With `--base TREE` the same runs are made by another
tree's ringwatch, in alternating fresh processes, for a baseline of the same session:

    git archive a86d054 | tar -x -C /tmp/base
    .venv/bin/python bench/incremental.py --accounts 20000 --base /tmp/base

From 100k accounts, `--bulk` loads the world once (`ringwatch load`, `ringwatch detect --full`
of this tree) and runs every tree's incremental runs on that one engine, in turn.

Prints one JSON line per run and a summary; writes bench/results/incremental.json (`--out`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
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


def _incremental_runs(
    service: Any, batches: list[list[dict[str, Any]]], pid: int | None
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    # The last batches of the world: accounts with histories, as in a running deployment.
    for chunk in batches:
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
        result, summary = ran
        out.append(
            {
                "changed": len(changed),
                # Accounts read and detected over; `written`: those whose results were
                # rewritten (the same in trees without a bound on places).
                "scope": len(result.accounts),
                "written": summary.accounts,
                "complete": summary.complete,
                "wall_s": round(wall, 3),
                "client_cpu_s": round(time.process_time() - cpu_before, 3),
                "engine_cpu_s": round(_engine_cpu_s(pid) - engine_before, 3) if pid else None,
                "seconds": summary.seconds,
            }
        )
    return out


def _batches(events: Path, batch_events: int) -> list[list[dict[str, Any]]]:
    raw = [orjson.loads(line) for line in events.read_bytes().splitlines()]
    return [raw[i : i + batch_events] for i in range(0, len(raw), batch_events)]


def child(events: Path, engine_dir: Path, batch_events: int, runs: int) -> None:
    """Load the world by ingest into a fresh engine, one full run, then the incremental runs."""
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
        batches = _batches(events, batch_events)
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
        out = _incremental_runs(service, batches[-runs:], pid)
        result = {"load_s": round(load_s, 1), "full_s": round(full_s, 1), "runs": out}
        print(orjson.dumps(result).decode())
    finally:
        server.stop()


def attached_child(events: Path, data_dir: Path, batch_events: int, runs: int) -> None:
    """The incremental runs only, on an engine the parent bulk-loaded and detected once
    (`--bulk`): every tree runs on the same graph, and a world of 100k accounts and more is
    not ingested event by event per process."""
    from ringwatch.graph.embedded import embedded_server
    from ringwatch.graph.falkordb_store import FalkorDBStore
    from ringwatch.services.detection import DetectionService

    server = embedded_server(data_dir)
    try:
        store = FalkorDBStore(server.client(), "ringwatch")
        pid = server.process.pid if server.process is not None else None
        out = _incremental_runs(
            DetectionService(store, seed=1), _batches(events, batch_events)[-runs:], pid
        )
        print(orjson.dumps({"runs": out}).decode())
    finally:
        server.stop()


def _bulk_prepare(events: Path, data_dir: Path) -> dict[str, float]:
    """`ringwatch load` and `ringwatch detect --full` of this tree, as a user runs them."""
    env = {**os.environ, "RINGWATCH_DATA_DIR": str(data_dir), "RINGWATCH_ENV": "development"}
    env.pop("RINGWATCH_NEO4J_URI", None)
    seconds = {}
    for name, args in (
        ("load_s", ["load", str(events), "--engine", "embedded", "--rejects", os.devnull]),
        ("full_s", ["detect", "--full"]),
    ):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "ringwatch", *args],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
            cwd=REPO,
        )
        seconds[name] = round(time.perf_counter() - started, 1)
    return seconds


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
    parser.add_argument(
        "--bulk",
        action="store_true",
        help="load the world once with `ringwatch load` and run every tree on that engine "
        "(for 100k accounts and more)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/incremental.json")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--events", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--engine-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--attach", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child and args.attach:
        attached_child(args.events, args.attach, args.batch_events, args.runs)
        return
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
        shared = tmp / "engine-shared"
        prepared = _bulk_prepare(world.events_path, shared) if args.bulk else {}
        if prepared:
            print(orjson.dumps({"prepared": prepared}).decode(), flush=True)
        for round_, code in alternating(codes, args.rounds):
            where = (
                ["--attach", str(shared)]
                if args.bulk
                else ["--engine-dir", str(tmp / f"engine-{code}-{round_}")]
            )
            result = (
                {"code": code, "round": round_}
                | prepared
                | run_in_tree(
                    __file__,
                    codes[code],
                    "--events",
                    str(world.events_path),
                    *where,
                    "--batch-events",
                    str(args.batch_events),
                    "--runs",
                    str(args.runs),
                )
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
                for key in ("wall_s", "client_cpu_s", "engine_cpu_s", "scope", "written")
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
            "bulk": args.bulk,
            "results": results,
            "median": summary,
            "machine": machine_info(load_before),
        },
    )


if __name__ == "__main__":
    main()
