"""Write-statement shapes side by side on the embedded engine: the engine's CPU per statement
family over the same batches, each shape into a fresh engine, and the graphs compared after.

The rows are ingest's own (`build_statements` over the first N events of a world, in batches of
`--batch-size`), sent one statement at a time so each family's engine CPU can be read between
them (`/proc/<engine pid>/stat`; the claim and the marker are left out: they are the same for
every shape). `--shapes` picks what to compare:

- `before`: every account in one `upsert_accounts` whose profile CASE chain sets all twelve
  fields of every row (the statement before issue 13's engine pass, kept here as the baseline).
- `now`: the statements as `build_statements` makes them (accounts split by what their rows
  carry: full, user agent only, counts only).

    .venv/bin/python bench/ingest_shapes.py --accounts 100000 --seed 1 --events 100000

Writes bench/results/ingest_shapes.json; every shape's graph digest must be the same.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import re
import sys
import tempfile
import time
from collections import defaultdict
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detect_store import world  # noqa: E402  # bench/detect_store.py, beside this script
from machine import machine_info  # noqa: E402

from ringwatch.event_files import read_raw_events  # noqa: E402
from ringwatch.graph import rows as rows_module  # noqa: E402
from ringwatch.identity import Pseudonymiser  # noqa: E402
from ringwatch.services.ingest import validate_events  # noqa: E402
from ringwatch.settings import Settings  # noqa: E402

KEY = b"bench-detect-store-key-0123456789"


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def family(query: str) -> str:
    if "r.profiled" in query:
        return "upsert_accounts (before)"
    if "FOREACH (_ IN" in query:
        return "upsert_accounts"
    if "r.ua_ts" in query:
        return "upsert_accounts_ua"
    if "MERGE (a:Account {id: r.id})" in query:
        return "upsert_accounts_lean"
    m = re.search(r"MATCH \(c:`(\w+)`", query)
    if m:
        return "parent " + m.group(1)
    m = re.search(r"MERGE \(a\)-\[e:`?(\w+)", query)
    if m:
        return m.group(1)
    return query.split("\n")[1][:40]


def records_of(events: Path) -> list[dict[str, Any]]:
    cache = events.with_suffix(".records.pkl")
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    records, _ = validate_events(read_raw_events(events), Pseudonymiser(KEY))
    cache.write_bytes(pickle.dumps(records, protocol=5))
    return records


def run(shape: str, records: list[dict[str, Any]], batch_size: int) -> dict[str, Any]:
    from ringwatch.graph.embedded import embedded_server
    from ringwatch.graph.factory import open_store, release

    data = Path(tempfile.mkdtemp(prefix="rw-bench-shapes-"))
    settings = Settings(_env_file=None, data_dir=data)  # type: ignore[call-arg]
    store = open_store(settings)
    proc = embedded_server(data).process
    assert proc is not None
    pid = proc.pid
    cpu: dict[str, float] = defaultdict(float)
    rows: dict[str, int] = defaultdict(int)
    build_s = 0.0
    t_all = time.perf_counter()
    for start in range(0, len(records), batch_size):
        batch = records[start : start + batch_size]
        t = time.process_time()
        statements = rows_module.build_statements(batch)
        if shape == "before":
            statements = _accounts_before(batch, statements)
        build_s += time.process_time() - t
        for statement in statements:
            name = family(statement.query)
            before = _cpu_s(pid)
            store.write(statement.query, {"rows": statement.rows, **statement.params})
            cpu[name] += _cpu_s(pid) - before
            rows[name] += len(statement.rows)
    wall = time.perf_counter() - t_all
    digest, counts = graph_digest(store)
    store.close()
    release(settings)
    return {
        "shape": shape,
        "events": len(records),
        "wall_s": round(wall, 1),
        "build_cpu_s": round(build_s, 2),
        "engine_cpu_s": round(sum(cpu.values()), 2),
        "rows": sum(rows.values()),
        "per_family": {
            k: {"rows": rows[k], "cpu_s": round(cpu[k], 2)}
            for k in sorted(cpu, key=cpu.get, reverse=True)  # type: ignore[arg-type]
        },
        "graph": {"digest": digest, **counts},
    }


BEFORE_UPSERT = (
    """UNWIND $rows AS r
MERGE (a:Account {id: r.id})
  ON CREATE SET a.first_seen = r.first, a.last_seen = r.last, a.events = 0
SET a.first_seen = CASE WHEN a.first_seen IS NULL OR r.first < a.first_seen
                     THEN r.first ELSE a.first_seen END,
    a.last_seen = CASE WHEN a.last_seen IS NULL OR r.last > a.last_seen
                    THEN r.last ELSE a.last_seen END,
    a.events = coalesce(a.events, 0) + r.n,
    a.created_at = CASE
      WHEN r.created IS NULL THEN a.created_at
      WHEN a.created_at IS NULL OR r.created < a.created_at THEN r.created
      ELSE a.created_at END
WITH a, r
WHERE r.profiled
WITH a, r, """
    + ",\n     ".join(
        f"r.{f}_ts IS NOT NULL AND (a.{f}_ts IS NULL OR r.{f}_ts > a.{f}_ts "
        f"OR (r.{f}_ts = a.{f}_ts AND r.{f} > a.{f})) AS {f}"
        for f in rows_module.PROFILE_FIELDS
    )
    + "\nSET "
    + ",\n    ".join(
        f"a.{f} = CASE WHEN {f} THEN r.{f} ELSE a.{f} END, "
        f"a.{f}_ts = CASE WHEN {f} THEN r.{f}_ts ELSE a.{f}_ts END"
        for f in rows_module.PROFILE_FIELDS
    )
)


def _accounts_before(
    batch: list[dict[str, Any]], statements: list[rows_module.Statement]
) -> list[rows_module.Statement]:
    """The accounts' rows of `statements` as the one statement of before."""
    rows = []
    for s in statements:
        if "MERGE (a:Account {id: r.id})" not in s.query:
            continue
        for r in s.rows:
            row = {"created": None, **{f: None for f in rows_module.PROFILE_FIELDS}}
            row.update({f"{f}_ts": None for f in rows_module.PROFILE_FIELDS})
            row.update(r)
            row["profiled"] = any(row[f] is not None for f in rows_module.PROFILE_FIELDS)
            rows.append(row)
    rows.sort(key=lambda r: r["id"])
    rest = [s for s in statements if "MERGE (a:Account {id: r.id})" not in s.query]
    return [rows_module.Statement(BEFORE_UPSERT, rows), *rest]


def graph_digest(store: Any) -> tuple[str, dict[str, int]]:
    """Every node (labels, properties) and edge (type, both ends' keys, properties), sorted."""
    nodes = store.read("MATCH (n) RETURN labels(n) AS l, properties(n) AS p")
    edges = store.read(
        "MATCH (a)-[e]->(b) RETURN type(e) AS t, coalesce(a.id, a.key, a.event_id) AS a, "
        "coalesce(b.id, b.key, b.event_id) AS b, properties(e) AS p"
    )
    node_lines = sorted(
        orjson.dumps([sorted(r["l"]), r["p"]], option=orjson.OPT_SORT_KEYS)
        for r in nodes
        if "Batch" not in r["l"]
    )
    edge_lines = sorted(
        orjson.dumps([r["t"], r["a"], r["b"], r["p"]], option=orjson.OPT_SORT_KEYS) for r in edges
    )
    h = hashlib.sha256()
    for line in node_lines + edge_lines:
        h.update(line + b"\n")
    return h.hexdigest()[:16], {"nodes": len(node_lines), "edges": len(edge_lines)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--shapes", default="before,now,before,now")
    parser.add_argument(
        "--out", type=Path, default=REPO / "bench" / "results" / "ingest_shapes.json"
    )
    args = parser.parse_args()
    source = world(args.accounts, args.seed) / "events.jsonl"
    events = source.with_name(f"first-{args.events}.jsonl")
    if not events.exists():
        with open(source, "rb") as src:
            events.write_bytes(b"".join(islice(src, args.events)))
    records = records_of(events)
    load_before = os.getloadavg()
    results = []
    for shape in args.shapes.split(","):
        results.append(run(shape, records, args.batch_size))
        print(orjson.dumps(results[-1]).decode(), "load", os.getloadavg(), flush=True)
    doc = {
        "benchmark": "ingest_shapes",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "world": {"accounts": args.accounts, "seed": args.seed, "file": events.name},
        "batch_size": args.batch_size,
        "machine": machine_info(load_before),
        "results": results,
    }
    args.out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
