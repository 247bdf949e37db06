"""The detection snapshot of a store that already holds a world (e.g. one `ringwatch load`
built): wall and CPU seconds of this process and of the engine's process, twice (the first
read warms the engine's caches), and what the snapshot holds.

    RINGWATCH_DATA_DIR=/path/to/data .venv/bin/python bench/snapshot.py --engine embedded
    RINGWATCH_NEO4J_URI=bolt://127.0.0.1:7790 RINGWATCH_NEO4J_PASSWORD=... \\
        .venv/bin/python bench/snapshot.py --engine neo4j --engine-pid "$(cat .../neo4j.pid)"

The store comes from the usual settings (RINGWATCH_* environment). The engine's CPU is read
from /proc/<pid>/stat (the embedded engine's pid is found from its socket's owner; give
Neo4j's with --engine-pid). Appends one JSON object per run to --out (default
bench/results/snapshot.json).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from machine import machine_info  # noqa: E402  # bench/machine.py, beside this script

from ringwatch.services.detection import DetectionService  # noqa: E402
from ringwatch.settings import Settings  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int | None) -> float | None:
    """User + system CPU seconds of another process so far (None: unknown)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS


def embedded_pid(settings: Settings) -> int | None:
    socket = settings.data_dir / "falkordb.sock"
    found = subprocess.run(
        ["pgrep", "-f", f"unixsocket:{socket}"], capture_output=True, text=True, check=False
    ).stdout.split()
    return int(found[0]) if found else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engine", choices=["embedded", "neo4j"], required=True)
    parser.add_argument("--engine-pid", type=int, help="Neo4j's JVM pid (embedded: found)")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--label", default="", help="free text stored with the result")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "snapshot.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    settings = Settings()
    if (args.engine == "neo4j") != bool(settings.neo4j_uri):
        parser.error("--engine neo4j needs RINGWATCH_NEO4J_URI; embedded needs it unset")
    from ringwatch.graph.factory import open_store, release

    store = open_store(settings)
    pid = args.engine_pid if args.engine == "neo4j" else embedded_pid(settings)
    service = DetectionService(store, seed=0)
    runs: list[dict[str, Any]] = []
    for _ in range(args.runs):
        engine_before = process_cpu_s(pid)
        cpu_before = time.process_time()
        started = time.perf_counter()
        snapshot = service.snapshot()
        wall = time.perf_counter() - started
        engine_after = process_cpu_s(pid)
        runs.append(
            {
                "wall_s": round(wall, 1),
                "client_cpu_s": round(time.process_time() - cpu_before, 1),
                "engine_cpu_s": None
                if engine_before is None or engine_after is None
                else round(engine_after - engine_before, 1),
                "accounts": snapshot.n_accounts,
                "identifiers": int(snapshot.links.shape[1]),
                "account_identifier_links": int(snapshot.links.nnz),
                "relations": int(snapshot.relations.shape[0]),
                "engagements": int(snapshot.engagements.shape[0]),
            }
        )
        print(json.dumps(runs[-1]), flush=True)
        del snapshot
    store.close()
    release(settings)
    result = {
        "bench": "snapshot",
        "engine": args.engine,
        "label": args.label,
        "runs": runs,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "machine": machine_info(load_before),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(args.out.read_text()) if args.out.exists() else []
    args.out.write_text(json.dumps([*previous, result], indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
