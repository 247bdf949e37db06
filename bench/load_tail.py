"""The tail of `ringwatch load` after validation, one step at a time, this tree against a
baseline tree in the same session: packing the GRAPH.BULK commands, GRAPH.BULK into a scratch
embedded engine (packing beside the engine, or not), and writing Neo4j's import CSV.

The tables are folded once from FILE (this tree's validation and fold) and pickled; each run
is a fresh process with one tree's `ringwatch/` first on the path, reading those tables, so
both trees pack the same rows. Rounds alternate which tree goes first (the machine's speed
drifts between runs an hour apart by a third). Both trees' outputs are checked equal: the
packed commands' bytes and the CSV files' bytes.

    git archive HEAD ringwatch | tar -x -C /tmp/base
    .venv/bin/python bench/load_tail.py FILE --base /tmp/base --rounds 3

Writes bench/results/load_tail.json (`--out`).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import pickle
import shutil
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from machine import alternating, machine_info, run_in_tree, trees, write_result  # noqa: E402

KEY = b"bench-load-tail-key-0123456789abcdef"


def fold(path: Path, tables_file: Path, batch: int) -> dict[str, int]:
    from ringwatch.event_files import read_raw_events
    from ringwatch.graph.bulk.graph import BulkGraph
    from ringwatch.identity import Pseudonymiser
    from ringwatch.services.ingest import validate_events

    hasher = Pseudonymiser(KEY)
    graph = BulkGraph()
    lines = read_raw_events(path)
    position = events = 0
    while chunk := list(islice(lines, batch)):
        records, _ = validate_events(chunk, hasher)
        graph.add_batch(f"b{position}", records, 0, position)
        position += 1
        events += len(chunk)
    tables = graph.tables()
    tables_file.write_bytes(pickle.dumps(tables, protocol=pickle.HIGHEST_PROTOCOL))
    return {"events": events, "nodes": tables.node_count, "edges": tables.edge_count}


def child(code: Path, tables_file: Path, engine_dir: Path, csv_dir: Path) -> None:
    """Runs in its own process, with `code`'s ringwatch first on the path."""
    sys.path.insert(0, str(code))
    from ringwatch.graph.bulk import falkordb as bulk
    from ringwatch.graph.bulk.neo4j import write_import_files
    from ringwatch.graph.embedded import EmbeddedServer

    gc.disable()  # as the loader's tail runs: the tables are millions of acyclic tuples
    tables = pickle.loads(tables_file.read_bytes())
    out: dict[str, Any] = {}

    digest = hashlib.sha256()
    started = time.process_time()
    for args in bulk.commands("g", tables):
        digest.update(b"|".join(a if isinstance(a, bytes) else str(a).encode() for a in args))
    out["pack_cpu_s"] = round(time.process_time() - started, 3)
    out["commands_sha256"] = digest.hexdigest()

    started = time.perf_counter()
    files = write_import_files(tables, csv_dir)
    out["csv_s"] = round(time.perf_counter() - started, 3)
    csv_digest = hashlib.sha256()
    for path in sorted(csv_dir.iterdir()):
        csv_digest.update(path.name.encode() + path.read_bytes())
    out["csv_sha256"] = csv_digest.hexdigest()
    out["csv_bytes"] = files.bytes

    server = EmbeddedServer(engine_dir).ensure_running()
    client = server.client()
    # The engine's work, not its disk: the log would hold every command's bytes again.
    client.config_set("appendonly", "no")
    try:
        started = time.perf_counter()
        cpu = time.process_time()
        bulk.bulk_insert(client, "g", tables)
        out["graph_bulk_s"] = round(time.perf_counter() - started, 3)
        out["graph_bulk_client_cpu_s"] = round(time.process_time() - cpu, 3)
        client.delete("g")
    finally:
        server.stop()
    print(orjson.dumps(out).decode())


def _run(code: Path, tables_file: Path, tmp: Path) -> dict[str, Any]:
    engine_dir, csv_dir = tmp / "engine", tmp / "csv"
    for d in (engine_dir, csv_dir):
        shutil.rmtree(d, ignore_errors=True)
    engine_dir.mkdir()
    return run_in_tree(
        __file__, code, str(tables_file), "--engine-dir", str(engine_dir), "--csv-dir", str(csv_dir)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="events (JSON Lines) to fold into tables")
    parser.add_argument("--base", type=Path, help="a tree with the old ringwatch/ to compare")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch", type=int, default=2000, help="events per chunk (batch size)")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/load_tail.json")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--engine-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--csv-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.file, args.engine_dir, args.csv_dir)
        return

    load_before = os.getloadavg()
    codes = trees(args.base)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-load-tail-") as name:
        tmp = Path(name)
        tables_file = tmp / "tables.pkl"
        started = time.perf_counter()
        world = fold(args.file, tables_file, args.batch)
        print(f"folded {world} in {time.perf_counter() - started:.1f} s", flush=True)
        for round_, code in alternating(codes, args.rounds):
            result = {"code": code, "round": round_} | _run(codes[code], tables_file, tmp)
            runs.append(result)
            print(orjson.dumps(result).decode(), flush=True)
    same = {key: len({r[key] for r in runs}) == 1 for key in ("commands_sha256", "csv_sha256")}
    summary = {
        code: {
            key: sorted(r[key] for r in runs if r["code"] == code)
            for key in ("pack_cpu_s", "graph_bulk_s", "graph_bulk_client_cpu_s", "csv_s")
        }
        for code in codes
    }
    print(orjson.dumps({"identical_output": same, **summary}, option=orjson.OPT_INDENT_2).decode())
    write_result(
        args.out,
        {
            "bench": "load_tail",
            "file": str(args.file),
            "world": world,
            "runs": runs,
            "identical_output": same,
            "summary": summary,
            "machine": machine_info(load_before),
        },
    )


if __name__ == "__main__":
    main()
