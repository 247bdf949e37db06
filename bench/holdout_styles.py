"""Per-style ring quality of generated worlds, detection as a full run does it (the calibrated
verdict model fitted on the world's bans, or the hand-set prior with `--model prior`), with
the verdict model's record. Prints one line per world and writes JSON.

    .venv/bin/python bench/holdout_styles.py field:100000:901 default:100000:901 \\
        --out bench/results/holdout-100k.json

Seeds must be generated after tuning for a hold-out (docs/detection.md). Worlds are cached
under .local/cache/worlds (tests/detectors/worlds.cached_world).

`--without KIND` detects on the same worlds with every link of that identifier kind removed
first: the same code with and without one signal, side by side (an ablation).
"""

import argparse
import json
import os
import resource
import sys
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.machine import clocked, machine_info
from ringwatch.detectors.calibration import FIT, USE_PRIOR
from ringwatch.detectors.pipeline import detect
from ringwatch.detectors.snapshot import KIND_CODE, Snapshot
from tests.detectors.worlds import cached_world, evaluate_result


def world_spec(spec: str) -> tuple[str, int, int]:
    """PROFILE:ACCOUNTS:SEED as (profile, accounts, seed), for argparse's `type=`: only the
    spec's parse is a usage error; a failure inside a run shows its own traceback."""
    try:
        profile, accounts, seed = spec.split(":")
        return profile, int(accounts), int(seed)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{spec!r}: expected PROFILE:ACCOUNTS:SEED") from None


def without_kinds(snap: Snapshot, kinds: Sequence[str]) -> Snapshot:
    """The snapshot with every link (and identifier) of `kinds` removed."""
    keep = np.flatnonzero(~np.isin(snap.identifier_kind, [KIND_CODE[k] for k in kinds]))
    counts = snap.identifier_accounts
    return replace(
        snap,
        identifiers=snap.identifiers[keep],
        identifier_kind=snap.identifier_kind[keep],
        links=snap.links[:, keep].tocsr(),
        link_first_seen=snap.link_first_seen[:, keep].tocsr(),
        identifier_accounts=None if counts is None else counts[keep],
    )


def world_quality(
    profile: str, accounts: int, seed: int, model: str, without: Sequence[str] = ()
) -> dict[str, Any]:
    snap, truth = cached_world(seed, accounts, profile)
    if without:
        snap = without_kinds(snap, without)
    verdict_model = USE_PRIOR if model == "prior" else FIT
    res, wall, cpu = clocked(partial(detect, snap, seed=0, verdict_model=verdict_model))
    m = evaluate_result(res, truth)
    vm = res.verdict_model
    return {
        "profile": profile,
        "accounts": accounts,
        "seed": seed,
        "without": list(without),
        "ring_recall": m["rings"]["recall"],
        "by_style_matched": m["rings"]["by_style_matched"],
        "min_style_recall": m["rings"]["min_style_recall"],
        "worst_style": m["rings"]["worst_style"],
        "account_precision": m["accounts"]["precision"],
        "account_recall": m["accounts"]["recall"],
        "false_ring_share": m["false_rings"]["false_ring_share"],
        "flagged": m["rings"]["flagged"],
        "detect_wall_s": round(wall, 2),
        "detect_cpu_s": round(cpu, 2),
        "stages_s": {k: round(v, 2) for k, v in res.timings.items()},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "verdict_model": {k: vm.get(k) for k in ("model", "reason", "rings", "cv")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "worlds", nargs="+", type=world_spec, help="PROFILE:ACCOUNTS:SEED, e.g. field:100000:901"
    )
    parser.add_argument("--model", choices=["fit", "prior"], default="fit")
    parser.add_argument(
        "--without",
        action="append",
        default=[],
        choices=sorted(KIND_CODE),
        metavar="KIND",
        help="remove this identifier kind's links before detecting (repeatable)",
    )
    parser.add_argument("--out", type=Path, help="write the records as JSON here")
    args = parser.parse_args()
    load_before = os.getloadavg()
    rows = []
    for profile, n_accounts, n_seed in args.worlds:
        spec = f"{profile}:{n_accounts}:{n_seed}"
        row = world_quality(profile, n_accounts, n_seed, args.model, args.without)
        rows.append(row)
        print(
            f"{spec}: ring recall {row['ring_recall']:.3f}, account precision "
            f"{row['account_precision']:.4f} / recall {row['account_recall']:.4f}, "
            f"benign-majority flagged {row['false_ring_share']:.2%} of {row['flagged']}, "
            f"verdict model {row['verdict_model']['model']}; {row['by_style_matched']}",
            flush=True,
        )
    if args.out:
        record = {"machine": machine_info(load_before), "worlds": rows}
        args.out.write_text(json.dumps(record, indent=1, default=str))


if __name__ == "__main__":
    main()
