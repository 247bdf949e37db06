"""Benchmark the in-memory detection (issue 4): seconds per stage and peak RSS at 1M accounts,
plus the same steps with networkx on a 100k-account sample so the speed-up is visible.

    .venv/bin/python bench/detect.py --accounts 1000000 --seed 1
    .venv/bin/python bench/detect.py --events world/events.jsonl   # a `ringwatch synth` world

Writes bench/results/detect.json. Snapshot building is timed separately from detection.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

import scipy.sparse as sp

from ringwatch.detectors.communities import projection
from ringwatch.detectors.pipeline import detect
from ringwatch.detectors.snapshot import Snapshot

# The planted-ring world is a test fixture (tests/detectors/planted.py), not part of the package;
# run as `python bench/detect.py`, the repository root is not on the path by itself.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.detectors.planted import planted_world


def reset_peak_rss() -> bool:
    """Linux lets a process reset its own high-water mark, so detection is measured alone."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_events(path: Path) -> Snapshot:
    import orjson
    from pydantic import ValidationError

    from ringwatch.detectors.snapshot import SnapshotBuilder
    from ringwatch.events import parse_event
    from ringwatch.identity import Pseudonymiser
    from ringwatch.records import FieldError, normalise

    hasher = Pseudonymiser(b"ringwatch-bench-key-0000000000000")
    builder = SnapshotBuilder()
    with path.open("rb") as fh:
        for line in fh:
            if line.strip():
                try:
                    builder.add_record(normalise(parse_event(orjson.loads(line)), hasher))
                except (ValidationError, FieldError):
                    continue
    return builder.build()


def networkx_pipeline(snapshot: Snapshot, seed: int) -> dict[str, float]:
    """Same graph steps with networkx: weighted projection edges -> nx.Graph -> connected
    components -> Louvain per component of >= 3 nodes (networkx has no CPM Leiden)."""
    import networkx as nx

    times: dict[str, float] = {}
    t = time.perf_counter()
    proj = sp.triu(projection(snapshot), k=1).tocoo()
    times["projection_scipy"] = time.perf_counter() - t
    t = time.perf_counter()
    graph = nx.Graph()
    graph.add_weighted_edges_from(
        zip(proj.row.tolist(), proj.col.tolist(), proj.data.tolist(), strict=True)
    )
    times["nx_build"] = time.perf_counter() - t
    t = time.perf_counter()
    comps = [c for c in nx.connected_components(graph) if len(c) >= 3]
    times["nx_components"] = time.perf_counter() - t
    t = time.perf_counter()
    n_comm = 0
    for c in comps:
        n_comm += len(nx.community.louvain_communities(graph.subgraph(c), seed=seed))
    times["nx_louvain"] = time.perf_counter() - t
    times["communities"] = float(n_comm)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1_000_000,
                        help="accounts in the built-in planted world (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=1, help="world and detection seed")
    parser.add_argument("--events", type=Path, default=None,
                        help="load this `ringwatch synth` events.jsonl, not the planted world")
    parser.add_argument("--nx-accounts", type=int, default=100_000,
                        help="sample size for the networkx comparison (0 to skip)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/detect.json"))
    args = parser.parse_args()

    out: dict[str, Any] = {"machine": platform.platform(), "python": platform.python_version()}
    t = time.perf_counter()
    if args.events:
        snapshot = load_events(args.events)
        out["source"] = str(args.events)
        out["generate_s"] = 0.0
    else:
        world = planted_world(args.accounts, args.seed)
        out["generate_s"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        snapshot = world.build()
        del world
        out["source"] = "planted"
    out["snapshot_build_s"] = round(time.perf_counter() - t, 2)
    out["accounts"] = snapshot.n_accounts
    out["links"] = int(snapshot.links.nnz)
    out["rss_before_detect_mb"] = round(peak_rss_mb(), 1)

    reset = reset_peak_rss()
    t = time.perf_counter()
    result = detect(snapshot, seed=args.seed)
    out["detect_s"] = round(time.perf_counter() - t, 2)
    out["detect_stages_s"] = result.timings
    out["detect_peak_rss_mb"] = round(peak_rss_mb(), 1)
    out["peak_rss_is_detect_only"] = reset
    out["rings"] = len(result.rings)
    out["flagged_rings"] = sum(1 for r in result.rings if r.verdict != "benign")
    out["evader_rows"] = len(result.evaders)
    print(json.dumps(out, indent=1))
    del result, snapshot

    if args.nx_accounts:
        sample = planted_world(args.nx_accounts, args.seed).build()
        t = time.perf_counter()
        ours = detect(sample, seed=args.seed)
        ours_s = time.perf_counter() - t
        nx_times = networkx_pipeline(sample, args.seed)
        nx_graph_s = sum(v for k, v in nx_times.items() if k.startswith("nx_"))
        ours_graph_s = ours.timings["projection"] + ours.timings["communities"]
        out["sample"] = {
            "accounts": sample.n_accounts,
            "ours_detect_s": round(ours_s, 2),
            "ours_graph_s": round(ours_graph_s, 2),
            "networkx": {k: round(v, 2) for k, v in nx_times.items()},
            "speedup_graph_steps": round(
                (nx_graph_s + nx_times["projection_scipy"]) / max(ours_graph_s, 1e-9), 1
            ),
            "speedup_vs_whole_detect": round(
                (nx_graph_s + nx_times["projection_scipy"]) / max(ours_s, 1e-9), 1
            ),
        }
        print(json.dumps(out["sample"], indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
