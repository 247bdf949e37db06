#!/usr/bin/env bash
# Start the real servers the tests need, run pytest against them, stop what this script started.
set -euo pipefail
cd "$(dirname "$0")/.."

export NEO4J_PORT="${NEO4J_PORT:-7688}"
export NEO4J_PASSWORD="${NEO4J_PASSWORD:-ringwatch-test-password}"
export REDIS_PORT="${REDIS_PORT:-6380}"

started=()
cleanup() {
  for service in "${started[@]}"; do bash "scripts/$service.sh" stop || true; done
}
trap cleanup EXIT

for service in redis neo4j; do
  if ! bash "scripts/$service.sh" status >/dev/null 2>&1; then
    bash "scripts/$service.sh" start
    started+=("$service")
  fi
done

# The console's tests drive a real browser (tests/console).
bash scripts/browser.sh

export RINGWATCH_TEST_NEO4J_URI="bolt://127.0.0.1:${NEO4J_PORT}"
export RINGWATCH_TEST_NEO4J_PASSWORD="$NEO4J_PASSWORD"
export RINGWATCH_TEST_REDIS_URL="redis://127.0.0.1:${REDIS_PORT}"
# The servers are up, so a test that needs one must run, not skip.
export RINGWATCH_TEST_REQUIRE_SERVERS=1

.venv/bin/pytest "$@"
