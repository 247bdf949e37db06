"""Per-style ring quality of one generated world, detection as a full run does it (the
calibrated verdict model fitted on the world's bans, or `prior` as a 4th argument), with the
verdict model's record; prints JSON.

    .venv/bin/python bench/holdout_styles.py field 20000 101 [prior]
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ringwatch.detectors.calibration import FIT, USE_PRIOR
from ringwatch.detectors.pipeline import detect
from tests.detectors.worlds import cached_world, evaluate_result

parser = argparse.ArgumentParser(
    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
)
parser.add_argument("profile", help="synth profile: default or field")
parser.add_argument("accounts", type=int)
parser.add_argument("seed", type=int, help="a seed generated after tuning, for a hold-out")
parser.add_argument("model", nargs="?", choices=["fit", "prior"], default="fit")
args = parser.parse_args()
profile, n, seed = args.profile, args.accounts, args.seed
model = USE_PRIOR if args.model == "prior" else FIT
snap, tp = cached_world(seed, n, profile)
res = detect(snap, seed=0, verdict_model=model)
m = evaluate_result(res, tp)
vm = res.verdict_model
out = {
    "profile": profile,
    "accounts": n,
    "seed": seed,
    "ring_recall": m["rings"]["recall"],
    "by_style_matched": m["rings"]["by_style_matched"],
    "min_style_recall": m["rings"]["min_style_recall"],
    "worst_style": m["rings"]["worst_style"],
    "account_precision": m["accounts"]["precision"],
    "account_recall": m["accounts"]["recall"],
    "false_ring_share": m["false_rings"]["false_ring_share"],
    "flagged": m["rings"]["flagged"],
    "verdict_model": {k: vm.get(k) for k in ("model", "reason", "rings", "cv")},
}
print(json.dumps(out, indent=1, default=str))
