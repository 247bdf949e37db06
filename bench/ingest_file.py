"""`ringwatch ingest` end to end (read, validate, normalise and pseudonymise, claim, row building,
Cypher, engine) on a world's events file, with the CPU each side spent, next to the raw engine
baseline measured in the same run: the plain `UNWIND $rows ... MERGE` of one edge type
(account -> device) with the same rows, no batch marker, no other statement.

On a shared 2-core machine wall-clock rates depend on the other jobs; CPU seconds per event of
this process (parsing, normalising, row building, encoding) and of the engine's process (query
execution) do much less, so both are recorded: `cpu_bound_events_per_s` is what the busiest side
alone would allow on a core of its own.

    .venv/bin/python bench/ingest_file.py --accounts 20000 --events 40000 --engines embedded
    .venv/bin/python bench/ingest_file.py --engines neo4j --neo4j-uri bolt://127.0.0.1:7714 \\
        --redis-url redis://127.0.0.1:6414 --neo4j-pid-file .local/neo4j/neo4j.pid

The Neo4j graph and the Redis database are cleared: use instances nobody else is using.
Writes bench/results/ingest_file.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detect_store import world  # noqa: E402  # bench/detect_store.py, beside this script
from machine import machine_info  # noqa: E402

from ringwatch.event_files import read_raw_events  # noqa: E402
from ringwatch.graph.rows import build_statements  # noqa: E402
from ringwatch.identity import Pseudonymiser  # noqa: E402
from ringwatch.services.ingest import IngestService, validate_events  # noqa: E402
from ringwatch.services.intake import Intake  # noqa: E402
from ringwatch.settings import Settings  # noqa: E402

KEY = b"bench-detect-store-key-0123456789"
BASELINE = """UNWIND $rows AS r
MATCH (a:Account {id: r.a})
MERGE (i:Device {key: r.key})
MERGE (a)-[e:USES_DEVICE]->(i)
  ON CREATE SET e.count = r.n
  ON MATCH SET e.count = e.count + r.n"""


def _cpu_s(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu_s() -> float:
    t = os.times()
    return t.children_user + t.children_system


def _open(engine: str, args: argparse.Namespace, data: Path) -> tuple[Any, Any, int | None]:
    from ringwatch.graph.factory import open_redis, open_store

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
        pid = int(Path(args.neo4j_pid_file).read_text()) if args.neo4j_pid_file else None
    else:
        from ringwatch.graph.embedded import embedded_server

        proc = embedded_server(data).process
        pid = proc.pid if proc else None
    return (store, client, pid), settings, pid


def run_service(engine: str, events: Path, normalisers: int, args: argparse.Namespace) -> dict:
    from ringwatch.graph.factory import release

    data = Path(tempfile.mkdtemp(prefix=f"rw-bench-ingest-{engine}-"))
    (store, client, pid), settings, _ = _open(engine, args, data)
    service = IngestService(store, Intake(client, 30), Pseudonymiser(KEY), args.batch_size)
    c_self, c_kids, c_engine = time.process_time(), _children_cpu_s(), _cpu_s(pid)
    t = time.perf_counter()
    extra = {"group": args.group} if args.group != 1 else {}  # a tree before `group` has none
    report = service.ingest_file(events, writers=args.writers, normalisers=normalisers, **extra)
    wall = time.perf_counter() - t
    cpu_self = time.process_time() - c_self
    cpu_kids = _children_cpu_s() - c_kids  # normaliser processes, reaped at the pool's exit
    cpu_engine = _cpu_s(pid) - c_engine
    n = report.accepted
    out = {
        "engine": engine,
        "path": f"service, normalisers={normalisers}, group={args.group}",
        "events": n,
        "wall_s": round(wall, 1),
        "events_per_s": round(n / wall),
        "cpu_s": {
            "ingest": round(cpu_self, 1),
            "normalisers": round(cpu_kids, 1),
            "engine": round(cpu_engine, 1),
        },
        "cpu_bound_events_per_s": round(n / max(cpu_self, cpu_kids, cpu_engine, 1e-9)),
    }
    store.close()
    client.close()
    release(settings)
    return out


def run_baseline(engine: str, events: Path, args: argparse.Namespace) -> dict:
    """The same file's device rows (normalised beforehand, not timed) as bare UNWIND ... MERGE."""
    from ringwatch.graph.factory import release

    records, _ = validate_events(read_raw_events(events), Pseudonymiser(KEY))
    batches = [records[i : i + args.batch_size] for i in range(0, len(records), args.batch_size)]
    work = []
    for batch in batches:
        statements = build_statements(batch)
        accounts = [
            {"id": r["id"]}
            for s in statements
            if "MERGE (a:Account {id: r.id})" in s.query
            for r in s.rows
        ]
        devices = next(s.rows for s in statements if "USES_DEVICE" in s.query)
        work.append((accounts, [{"a": r["a"], "key": r["key"], "n": r["n"]} for r in devices]))
    data = Path(tempfile.mkdtemp(prefix=f"rw-bench-ingest-{engine}-"))
    (store, client, pid), settings, _ = _open(engine, args, data)
    for accounts, _rows in work:  # the accounts exist, as they would after their upsert
        store.write("UNWIND $rows AS r MERGE (:Account {id: r.id})", {"rows": accounts})
    c_engine = _cpu_s(pid)
    t = time.perf_counter()
    rows = 0
    for _accounts, device_rows in work:
        store.write(BASELINE, {"rows": device_rows})
        rows += len(device_rows)
    wall = time.perf_counter() - t
    out = {
        "engine": engine,
        "path": "baseline: UNWIND ... MERGE of USES_DEVICE",
        "rows": rows,
        "wall_s": round(wall, 1),
        "rows_per_s": round(rows / wall),
        "cpu_s": {"engine": round(_cpu_s(pid) - c_engine, 1)},
        "cpu_bound_rows_per_s": round(rows / max(_cpu_s(pid) - c_engine, 1e-9)),
    }
    store.close()
    client.close()
    release(settings)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--events", type=int, default=0, help="first N events only (0: all)")
    parser.add_argument("--engines", default="embedded")
    parser.add_argument("--normalisers", default="0,1", help="comma-separated counts to compare")
    parser.add_argument("--writers", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument(
        "--group", type=int, default=1, help="ingest_file(group=...): batches per write at most"
    )
    parser.add_argument("--neo4j-uri", default="bolt://127.0.0.1:7688")
    parser.add_argument("--neo4j-password", default="ringwatch-test-password")
    parser.add_argument("--neo4j-pid-file", default=None)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6380")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "ingest_file.json")
    args = parser.parse_args()

    source = world(args.accounts, args.seed) / "events.jsonl"
    events = source
    if args.events:
        events = source.with_name(f"first-{args.events}.jsonl")
        if not events.exists():
            with open(source, "rb") as src:
                events.write_bytes(b"".join(islice(src, args.events)))
    load_before = os.getloadavg()
    results = []
    for engine in args.engines.split(","):
        results.append(run_baseline(engine, events, args))
        print(results[-1], flush=True)
        for n in (int(x) for x in args.normalisers.split(",")):
            results.append(run_service(engine, events, n, args))
            print(results[-1], flush=True)
    doc = {
        "benchmark": "ingest_file",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "world": {"accounts": args.accounts, "seed": args.seed, "file": events.name},
        "batch_size": args.batch_size,
        "writers": args.writers,
        "group": args.group,
        "results": results,
        "machine": machine_info(load_before),
    }
    print()
    for r in results:
        rate = r.get("events_per_s") or r.get("rows_per_s")
        unit = "events/s" if "events_per_s" in r else "rows/s"
        bound = r.get("cpu_bound_events_per_s") or r.get("cpu_bound_rows_per_s")
        print(
            f"{r['engine']:9} {r['path']:42} {rate:>8,} {unit:9} cpu {r['cpu_s']}  "
            f"cpu-bound {bound:,}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"JSON: {args.out}")


if __name__ == "__main__":
    main()
