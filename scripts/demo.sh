#!/usr/bin/env bash
# The README's first command: a generated world with planted rings, ingested into the embedded
# engine, searched for rings and ban evaders, and scored against the world's truth.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-.local/demo}"
accounts="${2:-20000}"
rw=.venv/bin/ringwatch

echo "== 1. generate a synthetic world with planted rings ($accounts accounts)"
$rw synth "$out/world" --accounts "$accounts" --seed 7

echo "== 2. ingest it into the embedded engine"
$rw ingest "$out/world/events.jsonl" --rejects "$out/rejects.jsonl"

echo "== 3. ingest the hand-written examples (some are invalid on purpose)"
$rw ingest examples/events.jsonl examples/events.csv --rejects "$out/example-rejects.jsonl"

echo "== 4. what the graph holds"
$rw summary --top 3

echo "== 5. find rings and ban evaders, write them back, export them"
$rw detect --out "$out/results"

echo "== 6. the largest rings found"
$rw export rings --out "$out/results/stored-rings.jsonl"
.venv/bin/python - "$out/results/rings.jsonl" <<'PY'
import sys, orjson
rings = [orjson.loads(line) for line in open(sys.argv[1], "rb")]
flagged = sorted((r for r in rings if r["verdict"] != "benign"), key=lambda r: -len(r["members"]))
for r in flagged[:5]:
    kinds = sorted({s["kind"] for s in r["evidence"].get("shared_identifiers", [])})
    print(f'{r["ring_id"]}  {r["verdict"]:<10} score {r["score"]:.2f}  {len(r["members"]):>4} members  shares: {", ".join(kinds) or "behaviour only"}')
PY

echo "== 7. detection quality against the planted truth"
$rw evaluate --truth "$out/world/truth.json" --rings "$out/results/rings.jsonl" \
  --evaders "$out/results/evaders.jsonl" --accounts "$out/results/accounts.jsonl" \
  --out "$out/results/metrics.json"
