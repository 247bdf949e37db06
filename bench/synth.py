"""Time `ringwatch synth` at scale: seconds, events, links, file size, peak RSS.

Usage: .venv/bin/python bench/synth.py [--accounts 1000000] [--seed 1] [--profile default]
Writes bench/results/synth.json. Peak RSS is reported for the main process and, separately,
for the largest rendering worker (workers are forked, so they share the plan copy-on-write).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

import orjson

from ringwatch.worlds import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--keep", type=Path, help="write the world here instead of a temp dir")
    args = parser.parse_args()
    out = args.keep or Path(tempfile.mkdtemp(prefix="ringwatch-bench-"))
    started = time.perf_counter()
    try:
        summary = generate(out, args.accounts, args.seed, args.profile)
        seconds = time.perf_counter() - started
    finally:
        if args.keep is None:
            shutil.rmtree(out, ignore_errors=True)
    # ru_maxrss is in KiB on Linux.
    rss_main = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss_worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    # CPU time shows the cost even when other work shares the machine and stretches wall time.
    cpu = sum(
        r.ru_utime + r.ru_stime
        for r in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )
    load = os.getloadavg()[0]
    result = {
        "accounts": args.accounts,
        "profile": args.profile,
        "seed": args.seed,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "load_average_1m_at_end": round(load, 2),
        "events": summary.events,
        "events_per_account": round(summary.events / args.accounts, 2),
        "account_identifier_links": summary.links,
        "links_per_account": round(summary.links / args.accounts, 2),
        "rings": summary.rings,
        "ring_members": summary.ring_members,
        "repeat_offenders": summary.repeat_offenders,
        "benign_groups": summary.groups,
        "events_bytes": summary.events_bytes,
        "truth_bytes": summary.truth_bytes,
        "peak_rss_main_mb": round(rss_main, 1),
        "peak_rss_worker_mb": round(rss_worker, 1),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    for key, value in result.items():
        print(f"{key:>26}: {value}")
    target = Path(__file__).parent / "results" / "synth.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")


if __name__ == "__main__":
    main()
