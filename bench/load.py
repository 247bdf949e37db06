"""Bulk load benchmark: `ringwatch load` on each engine next to the engine's raw speeds, in one run.

For each engine, on an empty store:

  load        `BulkLoadService.load` over a generated world (what `ringwatch load` runs): read,
              validate and pseudonymise, claim event ids in Redis, fold, build tables, then the
              engine step (GRAPH.BULK / write CSV + stop + neo4j-admin import + start), schema;
              seconds per stage and events/s over the whole.
  bulk tool   the engine's bulk tool alone on the same rows, pre-built: GRAPH.BULK of commands
              packed beforehand / `neo4j-admin database import full` of the CSV files written
              beforehand (server already stopped).
  merge       the simplest `UNWIND $rows MERGE (a)-[:USES_DEVICE]->(d)` of one edge type (the
              world's account-device pairs), batches of 5,000, indexes in place: what the
              engine does through its query path.

    .venv/bin/python bench/load.py --accounts 100000 --engines embedded,neo4j \\
        --neo4j-uri bolt://127.0.0.1:7713 --redis-url redis://127.0.0.1:6413

Neo4j is STOPPED and restarted by the run (scripts/neo4j.sh, same NEO4J_* environment) and its
database replaced, so point it at a test server nobody else uses. Writes bench/results/load.json
(or --out) with the machine's load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detect_store import world  # noqa: E402  # bench/detect_store.py, beside this script
from machine import machine_info  # noqa: E402

from ringwatch.graph.bulk.graph import Tables  # noqa: E402
from ringwatch.graph.bulk.targets import BulkTarget, Stage  # noqa: E402
from ringwatch.graph.factory import open_redis, open_store  # noqa: E402
from ringwatch.graph.labels import Rel  # noqa: E402
from ringwatch.identity import Pseudonymiser  # noqa: E402
from ringwatch.services.bulk_load import BulkLoadService  # noqa: E402
from ringwatch.services.ingest import IngestService  # noqa: E402
from ringwatch.services.intake import Intake  # noqa: E402
from ringwatch.settings import Settings  # noqa: E402

SCRIPT = f"bash {REPO / 'scripts' / 'neo4j.sh'}"
MERGE_BATCH = 5000
# The raw baseline is deliberately not one of the service's statements: the least an engine
# can be asked to do for one edge type through its query path.
MERGE_ONE_EDGE = (
    "UNWIND $rows AS r MERGE (a:Account {id: r.a}) MERGE (d:Device {key: r.key}) "
    "MERGE (a)-[:USES_DEVICE]->(d)"
)


class Keeping:
    """A target that keeps the tables it loaded, for the raw runs on the same rows."""

    def __init__(self, inner: BulkTarget) -> None:
        self.inner = inner
        self.engine = inner.engine
        self.tables: Tables | None = None

    def load(self, tables: Tables, stage: Stage) -> dict[str, float]:
        self.tables = tables
        return self.inner.load(tables, stage)


def _proc_cpu_s(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _engine_pid(engine: str, settings: Settings) -> int | None:
    if engine == "embedded":
        from ringwatch.graph.embedded import embedded_server

        proc = embedded_server(settings.data_dir).process
        return proc.pid if proc else None
    # Neo4j is restarted by the load itself, so its process CPU is not comparable across it.
    return None


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(
    engine: str, events: Path, args: argparse.Namespace, normalisers: int, raw_runs: bool
) -> dict[str, Any]:
    from ringwatch.graph.bulk.targets import open_target

    work = Path(tempfile.mkdtemp(prefix=f"bench-load-{engine}-", dir=REPO / ".local"))
    common: dict[str, Any] = {"env": "test", "batch_size": 2000}
    if engine == "neo4j":
        settings = Settings(
            **common,
            neo4j_uri=args.neo4j_uri,
            redis_url=args.redis_url,
            neo4j_admin=f"{SCRIPT} admin",
            neo4j_stop=f"{SCRIPT} stop",
            neo4j_start=f"{SCRIPT} start",
        )
    else:
        settings = Settings(**common, data_dir=work / "engine", graph_name="bench")
    store = open_store(settings)
    client = open_redis(settings)
    if engine == "neo4j":  # the embedded engine starts empty in its own data directory
        store.clear()
        store.ensure_schema()
        client.flushdb()
    ingest = IngestService(
        store,
        Intake(client, dedupe_window_days=3650),
        Pseudonymiser(settings.hash_key.get_secret_value().encode()),
        settings.batch_size,
    )
    target = Keeping(open_target(settings))
    service = BulkLoadService(store, ingest, target)
    _say(f"[{engine}] load of {events}, {normalisers} normaliser processes")
    pid = _engine_pid(engine, settings)
    # CPU per process, because wall time on a shared machine measures the neighbours too:
    # this process (claims, fold, tables), the normaliser processes (reaped when the load's
    # pool exits) and the engine's process.
    c_self, c_engine = time.process_time(), _proc_cpu_s(pid)
    kids = os.times()
    c_kids = kids.children_user + kids.children_system
    wall = time.perf_counter()
    report = service.load(
        [events], stage=lambda name: _say(f"[{engine}]   {name}"), normalisers=normalisers
    )
    wall = time.perf_counter() - wall
    kids = os.times()
    cpu = {
        "load": round(time.process_time() - c_self, 2),
        "normalisers": round(kids.children_user + kids.children_system - c_kids, 2),
        "engine": round(_proc_cpu_s(pid) - c_engine, 2) if pid else None,
    }
    # Peak resident memory so far (kernel's high-water marks): this process, and the largest
    # of its reaped children (the load's worker processes).
    peak_rss_mb = {
        "load": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "largest_worker": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024,
    }
    out: dict[str, Any] = {
        "engine": engine,
        "normalisers": normalisers,
        "events": report.accepted,
        "rejected": len(report.rejected),
        "nodes": report.nodes,
        "edges": report.edges,
        "load_s": wall,
        "load_events_per_s": report.accepted / wall,
        "cpu_s": cpu,
        "peak_rss_mb": peak_rss_mb,
        "stages_s": report.seconds,
    }
    tables = target.tables
    assert tables is not None
    if not raw_runs:
        del tables, target
        store.close()
        if engine == "embedded":
            from ringwatch.graph.factory import release

            release(settings)
        return out
    devices = next(t for t in tables.edges if t.rel is Rel.USES_DEVICE)
    pairs = [{"a": a, "key": key} for a, key, *_ in devices.rows]
    out["bulk_tool_entities"] = tables.node_count + tables.edge_count

    if engine == "embedded":
        from ringwatch.graph.bulk.falkordb import commands, send

        raw = open_redis(settings)
        name = f"bench_raw_{uuid.uuid4().hex[:8]}"
        packed = list(commands(name, tables))
        _say(f"[{engine}] bulk tool alone: {len(packed)} GRAPH.BULK commands")
        started = time.perf_counter()
        for cmd in packed:
            send(raw, cmd)
        out["bulk_tool_s"] = time.perf_counter() - started
        raw.delete(name)
        del packed
        from falkordb import FalkorDB

        graph = FalkorDB(connection_pool=raw.connection_pool).select_graph(
            f"bench_merge_{uuid.uuid4().hex[:6]}"
        )
        graph.query("CREATE INDEX FOR (a:Account) ON (a.id)")
        graph.query("CREATE INDEX FOR (d:Device) ON (d.key)")

        def merge(rows: list[dict[str, Any]]) -> None:
            graph.query(MERGE_ONE_EDGE, {"rows": rows})

        def merge_done() -> None:
            graph.delete()
    else:
        from ringwatch.graph.bulk.neo4j import write_import_files

        files = write_import_files(tables, work / "csv")
        store.close()
        _say(f"[{engine}] bulk tool alone: neo4j-admin import of {files.bytes / 1e6:,.0f} MB")
        os.system(f"{SCRIPT} stop >/dev/null 2>&1")
        command = [
            *shlex.split(f"{SCRIPT} admin"),
            "database",
            "import",
            "full",
            "neo4j",
            "--overwrite-destination=true",
            "--bad-tolerance=0",
            "--id-type=string",
            f"--multiline-fields={'true' if files.multiline else 'false'}",
            *files.args,
        ]
        import subprocess

        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        out["bulk_tool_s"] = time.perf_counter() - started
        subprocess.run(shlex.split(f"{SCRIPT} start"), check=True, stderr=subprocess.DEVNULL)
        import neo4j

        driver = neo4j.GraphDatabase.driver(
            args.neo4j_uri, auth=("neo4j", settings.neo4j_password.get_secret_value())
        )
        session = driver.session()
        session.run(
            "MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
        ).consume()
        for q in (
            "CREATE CONSTRAINT IF NOT EXISTS FOR (a:Account) REQUIRE a.id IS UNIQUE",
            "CREATE CONSTRAINT IF NOT EXISTS FOR (d:Device) REQUIRE d.key IS UNIQUE",
        ):
            session.run(q).consume()

        def merge(rows: list[dict[str, Any]]) -> None:
            session.run(MERGE_ONE_EDGE, {"rows": rows}).consume()

        def merge_done() -> None:
            session.run(
                "MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
            ).consume()
            session.close()
            driver.close()

    _say(f"[{engine}] UNWIND MERGE of {len(pairs):,} account-device edges")
    started = time.perf_counter()
    for i in range(0, len(pairs), MERGE_BATCH):
        merge(pairs[i : i + MERGE_BATCH])
    out["merge_s"] = time.perf_counter() - started
    out["merge_rows"] = len(pairs)
    out["merge_rows_per_s"] = len(pairs) / out["merge_s"]
    out["bulk_tool_entities_per_s"] = out["bulk_tool_entities"] / out["bulk_tool_s"]
    merge_done()
    if engine == "embedded":
        from ringwatch.graph.factory import release

        release(settings)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engines", default="embedded,neo4j")
    parser.add_argument("--neo4j-uri", default="bolt://127.0.0.1:7688")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6380")
    parser.add_argument("--events-file", type=Path, help="load this file instead of a world")
    parser.add_argument(
        "--normalisers",
        default="0,2",
        help="normaliser process counts to load with, in turn (0: validation in the loading "
        "process, the code before normaliser processes: the baseline); the raw engine runs go "
        "with the last",
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "load.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    events = args.events_file or world(args.accounts, args.seed) / "events.jsonl"
    counts = [int(n) for n in args.normalisers.split(",")]
    results = [
        run(engine, events, args, n, raw_runs=i == len(counts) - 1)
        for engine in args.engines.split(",")
        for i, n in enumerate(counts)
    ]
    print(f"\n{events}: {results[0]['events']:,} events")
    print(
        f"{'engine':<10}{'norm.':>6}{'load s':>9}{'events/s':>11}"
        f"{'bulk tool s':>13}{'entities/s':>12}"
        f"{'merge rows/s':>14}  stages (s)"
    )
    for r in results:
        stages = ", ".join(f"{k} {v:.1f}" for k, v in r["stages_s"].items())
        raw = (
            f"{r['bulk_tool_s']:>13.1f}{r['bulk_tool_entities_per_s']:>12,.0f}"
            f"{r['merge_rows_per_s']:>14,.0f}"
            if "bulk_tool_s" in r
            else f"{'':>13}{'':>12}{'':>14}"
        )
        print(
            f"{r['engine']:<10}{r['normalisers']:>6}{r['load_s']:>9.1f}"
            f"{r['load_events_per_s']:>11,.0f}{raw}  {stages}; cpu s {r['cpu_s']}"
            f"; peak rss mb {r['peak_rss_mb']}"
        )
    payload = {
        "events_file": str(events),
        "accounts": None if args.events_file else args.accounts,
        "seed": args.seed,
        "results": results,
        "machine": machine_info(load_before),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
