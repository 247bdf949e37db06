"""The bulk loader's fold alone: validated records folded into two graphs (as two load workers
would), one pickled and merged into the other (as through the result queue), the tables built
and every row read (as a bulk target does). CPU seconds per step and peak RSS above the
records' own, for the code under `--code` (default: this checkout), so an old tree and a new
one can be compared on the same records in one session:

    .venv/bin/python bench/fold.py --events /path/events.jsonl --limit 1500000 \\
        --records .local/bench/records.pkl --code /tmp/base --out bench/results/fold-before.json
    .venv/bin/python bench/fold.py --records .local/bench/records.pkl \\
        --out bench/results/fold.json

Validation is not measured here (`bench/validate.py` does that): the records are validated once
and kept as a pickle (`--records`), which the next run reads instead of the events.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import pickle
import resource
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _rss_mb() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") >> 20


def _records(args: argparse.Namespace) -> list[Any]:
    if args.records and args.records.exists():
        with args.records.open("rb") as fh:
            loaded: list[Any] = pickle.load(fh)
        return loaded
    if args.events is None:
        sys.exit("give --events (and --records to keep the validated records for the next run)")
    from ringwatch.event_files import read_raw_events
    from ringwatch.identity import Pseudonymiser
    from ringwatch.services.ingest import validate_events

    raw = list(itertools.islice(read_raw_events(args.events), args.limit))
    records, _ = validate_events(raw, Pseudonymiser(b"bench-fold-key-000000000000000000"))
    if args.records:
        args.records.parent.mkdir(parents=True, exist_ok=True)
        with args.records.open("wb") as fh:
            pickle.dump(records, fh, protocol=5)
    return records


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=Path, help="events file (JSON lines) to validate")
    parser.add_argument("--limit", type=int, default=1_500_000, help="events taken from it")
    parser.add_argument("--records", type=Path, help="pickle of validated records (read/write)")
    parser.add_argument("--code", type=Path, default=REPO, help="tree whose ringwatch to time")
    parser.add_argument("--batch", type=int, default=2000, help="records per batch")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "fold.json")
    args = parser.parse_args()
    sys.path.insert(0, str(args.code))
    sys.path.insert(1, str(REPO / "bench"))
    from machine import machine_info  # bench/machine.py

    from ringwatch.graph.bulk.graph import BulkGraph

    records = _records(args)
    gc.collect()
    before_mb = _rss_mb()
    load_before = os.getloadavg()
    cpu: dict[str, float] = {}
    t = time.process_time()
    parts = [BulkGraph(), BulkGraph()]
    for n, lo in enumerate(range(0, len(records), args.batch)):
        parts[n % 2].add_batch(f"b{n}", records[lo : lo + args.batch], 1, position=n)
    cpu["fold"] = time.process_time() - t
    n_records = len(records)
    del records
    gc.collect()
    t = time.process_time()
    other = pickle.loads(pickle.dumps(parts.pop(), protocol=5))
    parts[0].merge(other)
    del other
    cpu["pickle and merge"] = time.process_time() - t
    t = time.process_time()
    tables = parts[0].tables()
    cpu["tables"] = time.process_time() - t
    t = time.process_time()
    rows = sum(1 for table in tables.edges for _ in table.rows)
    rows += sum(1 for table in tables.nodes for _ in table.rows)
    cpu["read every row"] = time.process_time() - t
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10
    result = {
        "code": str(args.code),
        "records": n_records,
        "nodes": tables.node_count,
        "edges": tables.edge_count,
        "rows_read": rows,
        "cpu_s": {k: round(v, 2) for k, v in cpu.items()},
        "cpu_total_s": round(sum(cpu.values()), 2),
        "peak_rss_mb": peak_mb,
        "records_rss_mb": before_mb,
        "peak_above_records_mb": peak_mb - before_mb,
        "machine": machine_info(load_before),
    }
    steps = ", ".join(f"{k} {v:.1f}" for k, v in result["cpu_s"].items())
    print(
        f"{args.code}: {n_records:,} records, {tables.edge_count:,} edges, "
        f"{tables.node_count:,} nodes; CPU s: {steps}; total {result['cpu_total_s']:.1f}; "
        f"peak RSS {peak_mb:,} MB ({result['peak_above_records_mb']:,} MB above the records)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
