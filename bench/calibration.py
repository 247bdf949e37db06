"""Ring quality with the calibrated verdict model vs the hand-set prior, side by side.

For each (accounts, seed): a `ringwatch synth` world, its Snapshot (the detectors' tests'
loader), the deployment's labels as a platform would have them (bans in force positive, accounts
whose newest enforcement is `clear` negative), then `detect` twice on the same rings: once with
the hand-set weights, once with the model fitted on those labels. Prints ring recall, account
precision/recall and benign-majority flagged rings for both, and the model's CV figures.

    .venv/bin/python bench/calibration.py --world 20000:1 --world 20000:2 --world 20000:3 \
        --world 100000:1

Writes bench/results/calibration.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from ringwatch.detectors.calibration import FIT, USE_PRIOR, account_labels  # noqa: E402
from ringwatch.detectors.pipeline import detect  # noqa: E402
from ringwatch.worlds import generate  # noqa: E402
from tests.detectors.worlds import evaluate_result, snapshot_from_events  # noqa: E402

OUT = Path(__file__).parent / "results" / "calibration.json"


def cleared_accounts(events: Path) -> list[str]:
    """Accounts whose newest enforcement (events are in time order) is `clear`."""
    last: dict[str, str] = {}
    with events.open("rb") as fh:
        for line in fh:
            if b'"enforcement"' not in line:
                continue
            e = orjson.loads(line)
            if e.get("type") == "enforcement":
                last[e["account_id"]] = e.get("action", "")
    return sorted(a for a, action in last.items() if action == "clear")


def summary(metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        "ring_recall": metrics["rings"]["recall"],
        "account_precision": metrics["accounts"]["precision"],
        "account_recall": metrics["accounts"]["recall"],
        "benign_majority_flagged_share": metrics["false_rings"]["false_ring_share"],
    }


def run(accounts: int, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        world = generate(Path(tmp), accounts, seed, "default")
        snap = snapshot_from_events(world.events_path)
        cleared = cleared_accounts(world.events_path)
        truth = Path(tmp) / "truth.json"
        world.truth_path.replace(truth)
        labels = account_labels(snap, negative=cleared)
        out: dict[str, Any] = {"accounts": accounts, "seed": seed}
        for name, model in (("prior", USE_PRIOR), ("calibrated", FIT)):
            clock = time.perf_counter()
            result = detect(snap, seed=0, labels=labels, verdict_model=model)
            out[name] = summary(evaluate_result(result, truth))
            # The same with only `fraud` verdicts counted as flagged.
            fraud_only = replace(
                result,
                rings=tuple(
                    replace(r, verdict="benign") if r.verdict == "suspicious" else r
                    for r in result.rings
                ),
            )
            out[name]["fraud_only"] = summary(evaluate_result(fraud_only, truth))
            out[name]["verdicts"] = {
                v: sum(r.verdict == v for r in result.rings) for v in ("fraud", "suspicious")
            }
            out[name]["seconds"] = round(time.perf_counter() - clock, 1)
            out[name]["verdict_seconds"] = result.timings.get("verdicts")
            if name == "calibrated":
                out["record"] = {k: v for k, v in result.verdict_model.items() if k != "fitted"}
                out["coefficients"] = dict(
                    zip(
                        result.verdict_model.get("fitted", {}).get("features", []),
                        [
                            round(c, 3)
                            for c in result.verdict_model.get("fitted", {}).get("coef", [])
                        ],
                        strict=True,
                    )
                )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--world", action="append", default=[], help="ACCOUNTS:SEED (repeatable)")
    args = ap.parse_args()
    rows = []
    for spec in args.world or ["20000:1"]:
        n, s = (int(v) for v in spec.split(":"))
        row = run(n, s)
        rows.append(row)
        print(orjson.dumps(row, option=orjson.OPT_INDENT_2).decode(), flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(orjson.dumps(rows, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
