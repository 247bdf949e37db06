#!/usr/bin/env bash
# The README's first command: a generated world, ingested into the embedded engine, summarised.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-.local/demo}"
accounts="${2:-20000}"
rw=.venv/bin/ringwatch

echo "== 1. generate a synthetic world with planted rings ($accounts accounts)"
$rw synth "$out/world" --accounts "$accounts" --seed 7

echo "== 2. ingest it into the embedded engine (RINGWATCH_DATA_DIR=${RINGWATCH_DATA_DIR:-default})"
$rw ingest "$out/world/events.jsonl" --rejects "$out/rejects.jsonl"

echo "== 3. ingest the hand-written examples (some are invalid on purpose)"
$rw ingest examples/events.jsonl examples/events.csv --rejects "$out/example-rejects.jsonl"

echo "== 4. what the graph holds"
$rw summary --top 3
