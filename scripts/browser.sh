#!/usr/bin/env bash
# Make sure Debian's chromium and chromium-driver are installed, for the console's browser tests
# (tests/console). Installs them with apt-get the way scripts/redis.sh installs redis-server.
set -euo pipefail

log() { echo "browser.sh: $*" >&2; }

if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
log "installing Debian packages chromium and chromium-driver"
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y -q chromium chromium-driver >/dev/null; then
    $sudo apt-get update -q >/dev/null
    $sudo apt-get install -y -q chromium chromium-driver >/dev/null
fi
