"""Where the planted rings that detection misses are lost, per style: grouped but judged benign,
left as pieces below the reported ring size, in no community at all, or split (best Jaccard
below 0.5). Detection runs as `bench/holdout_styles.py` runs it (`--model fit`). Prints one
line per missed ring and a table per world, and writes JSON.

    .venv/bin/python bench/missed_rings.py default:100000:907 field:100000:501 \\
        --out /tmp/missed.json

Worlds are cached under .local/cache/worlds (tests/detectors/worlds.cached_world).
"""

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.holdout_styles import world_spec
from ringwatch.detectors.calibration import FIT
from ringwatch.detectors.communities import leiden_batches
from ringwatch.detectors.pipeline import (
    DetectParams,
    communities_of,
    evader_part,
    finish,
    prepare,
    side_part,
)
from tests.detectors.worlds import cached_world

CAUSES = ("judged benign", "pieces below ring size", "in no community", "split")


def missed_rings(profile: str, accounts: int, seed: int) -> dict[str, Any]:
    snap, truth_path = cached_world(seed, accounts, profile)
    truth = json.loads(Path(truth_path).read_text())
    params = DetectParams()
    prepared = prepare(snap, params)
    memberships = leiden_batches(
        prepared.plan,
        range(prepared.plan.n_batches),
        resolution=params.resolution,
        seed=0,
        n_iterations=params.n_iterations,
    )
    part = communities_of(prepared, memberships, params)
    side = side_part(snap, params, None, None)
    result = finish(
        prepared, part, evader_part(snap, params), side, seed=0, params=params, verdict_model=FIT
    )
    ring_of = {m: r for r in result.rings for m in r.members}
    labels = part.labels
    sizes = np.bincount(labels[labels >= 0])
    index = snap.account_index()
    rows: list[dict[str, Any]] = []
    for planted in truth["rings"]:
        members = set(planted["members"])
        best: tuple[float, Any] | None = None
        for ring in {ring_of[m].ring_id: ring_of[m] for m in members if m in ring_of}.values():
            jaccard = len(members & set(ring.members)) / len(members | set(ring.members))
            if best is None or jaccard > best[0]:
                best = (jaccard, ring)
        if best is not None and best[0] >= 0.5 and best[1].verdict != "benign":
            continue
        own = labels[[index[m] for m in planted["members"]]]
        if best is not None and best[0] >= 0.5:
            cause = "judged benign"
        elif best is not None:
            cause = "split"
        elif ((own >= 0) & (sizes[np.maximum(own, 0)] < params.min_ring_size)).any():
            cause = "pieces below ring size"
        else:
            cause = "in no community"
        rows.append(
            {
                "ring_id": planted["ring_id"],
                "style": planted["style"],
                "size": planted["size"],
                "cause": cause,
                "best_jaccard": None if best is None else round(best[0], 3),
                "best_score": None if best is None else round(best[1].score, 3),
            }
        )
    by_style: dict[str, Counter[str]] = {}
    for row in rows:
        by_style.setdefault(row["style"], Counter())[row["cause"]] += 1
    return {
        "profile": profile,
        "accounts": accounts,
        "seed": seed,
        "rings": len(truth["rings"]),
        "missed": rows,
        "by_style": {s: dict(c) for s, c in sorted(by_style.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "worlds", nargs="+", type=world_spec, help="PROFILE:ACCOUNTS:SEED, e.g. field:100000:901"
    )
    parser.add_argument("--out", type=Path, help="write the records as JSON here")
    args = parser.parse_args()
    records = []
    for profile, size, number in args.worlds:
        spec = f"{profile}:{size}:{number}"
        record = missed_rings(profile, size, number)
        records.append(record)
        for row in record["missed"]:
            print(f"{spec} {row['style']} {row['ring_id']} size {row['size']}: {row['cause']}")
        print(f"{spec}: {len(record['missed'])} of {record['rings']} rings missed")
        for style, causes in record["by_style"].items():
            print(f"  {style}: " + ", ".join(f"{c} {causes.get(c, 0)}" for c in CAUSES))
    if args.out:
        args.out.write_text(json.dumps({"worlds": records}, indent=1))


if __name__ == "__main__":
    main()
