#!/usr/bin/env bash
# Vendor the console's browser libraries (web/package.json, pinned by web/package-lock.json) into
# ringwatch/console/static/vendor. The vendored files are committed, so a wheel or a checkout
# without npm still serves the console; this refreshes them from the lock file when npm exists.
set -euo pipefail
cd "$(dirname "$0")/.."
vendor=ringwatch/console/static/vendor
files=(
  cytoscape/dist/cytoscape.min.js
  layout-base/layout-base.js
  cose-base/cose-base.js
  cytoscape-fcose/cytoscape-fcose.js
)
if ! command -v npm >/dev/null; then
  if [[ -f "$vendor/cytoscape.min.js" ]]; then
    echo "vendor.sh: npm not found; keeping the committed files in $vendor" >&2
    exit 0
  fi
  echo "vendor.sh: npm is needed to vendor the console's libraries" >&2
  exit 1
fi
if [[ ! -d web/node_modules ]] || [[ web/package-lock.json -nt web/node_modules ]]; then
  # The lock file carries versions and integrity hashes but no registry addresses: npm resolves
  # them against whatever registry its own configuration names.
  (cd web && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
fi
mkdir -p "$vendor"
for f in "${files[@]}"; do
  cp "web/node_modules/$f" "$vendor/$(basename "$f")"
done
for pkg in cytoscape layout-base cose-base cytoscape-fcose; do
  cp "web/node_modules/$pkg/LICENSE" "$vendor/LICENSE.$pkg" 2>/dev/null || true
done
echo "vendor.sh: $vendor up to date"
