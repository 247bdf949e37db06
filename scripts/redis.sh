#!/usr/bin/env bash
# Run a throwaway Redis (Debian's redis-server) on loopback for dev/CI.
# Usage: scripts/redis.sh {start|stop|restart|status}
#
# Env (defaults):
#   REDIS_PORT=6380
#   REDIS_DIR=<repo>/.local/redis         AOF, pidfile, redis.log
#   REDIS_START_TIMEOUT=30                seconds
#   REDIS_STOP_TIMEOUT=30                 seconds before SIGKILL
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)

REDIS_PORT="${REDIS_PORT:-6380}"
REDIS_DIR="$(realpath -m "${REDIS_DIR:-$REPO_ROOT/.local/redis}")"  # absolute: redis-server chdirs to --dir
REDIS_START_TIMEOUT="${REDIS_START_TIMEOUT:-30}"
REDIS_STOP_TIMEOUT="${REDIS_STOP_TIMEOUT:-30}"
PIDFILE="$REDIS_DIR/redis-$REDIS_PORT.pid"
LOGFILE="$REDIS_DIR/redis-$REDIS_PORT.log"

log() { echo "redis.sh: $*" >&2; }

ensure_installed() {
    if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
        return 0
    fi
    log "installing Debian package redis-server"
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    if ! $sudo apt-get install -y -q redis-server >/dev/null; then
        $sudo apt-get update -q >/dev/null
        $sudo apt-get install -y -q redis-server >/dev/null
    fi
}

cli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

pinged() { [[ "$(cli ping 2>/dev/null)" == "PONG" ]]; }

read_pid() {
    [[ -f "$PIDFILE" ]] || return 1
    local pid
    pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    local cmdline
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ "$cmdline" == *"redis-server"* ]] || return 1
    echo "$pid"
}

cmd_status() {
    local pid
    if pid=$(read_pid) && pinged; then
        echo "redis running (pid $pid) on 127.0.0.1:$REDIS_PORT"
        return 0
    fi
    echo "redis not running on 127.0.0.1:$REDIS_PORT"
    return 1
}

cmd_start() {
    local pid
    if pid=$(read_pid); then
        log "already running (pid $pid) on 127.0.0.1:$REDIS_PORT"
    else
        if pinged; then
            log "port $REDIS_PORT already has a Redis that this script did not start"
            return 1
        fi
        ensure_installed
        mkdir -p "$REDIS_DIR"
        rm -f "$PIDFILE"
        # "-::1" binds IPv6 loopback only if available, so "localhost" works either way.
        # Protected mode stays on: it only refuses non-loopback clients.
        redis-server \
            --port "$REDIS_PORT" \
            --bind "127.0.0.1 -::1" \
            --daemonize yes \
            --pidfile "$PIDFILE" \
            --logfile "$LOGFILE" \
            --dir "$REDIS_DIR" \
            --appendonly yes \
            --appendfsync everysec \
            --save "" 9>&-
    fi
    local deadline=$((SECONDS + REDIS_START_TIMEOUT))
    until pinged; do
        if ((SECONDS >= deadline)); then
            log "redis did not answer PING within ${REDIS_START_TIMEOUT}s"
            [[ -f "$LOGFILE" ]] && tail -n 40 "$LOGFILE" >&2
            return 1
        fi
        sleep 0.1
    done
    log "ready on 127.0.0.1:$REDIS_PORT (pid $(cat "$PIDFILE" 2>/dev/null || echo '?'))"
}

cmd_stop() {
    local pid
    if ! pid=$(read_pid); then
        rm -f "$PIDFILE"
        log "not running"
        return 0
    fi
    log "stopping pid $pid"
    # SHUTDOWN flushes the AOF; with save "" it writes no RDB.
    cli shutdown >/dev/null 2>&1 || true
    local deadline=$((SECONDS + REDIS_STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "still running after ${REDIS_STOP_TIMEOUT}s, sending SIGTERM then SIGKILL"
        kill -TERM "$pid" 2>/dev/null || true
        sleep 2
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    rm -f "$PIDFILE"
    log "stopped"
}

# Serialise concurrent start/stop calls (e.g. parallel test sessions) on one home dir.
lock() {
    mkdir -p "$REDIS_DIR"
    exec 9>"$REDIS_DIR/.lock"
    flock 9
}

case "${1:-}" in
    start) lock && cmd_start ;;
    stop) lock && cmd_stop ;;
    restart) lock && cmd_stop && cmd_start ;;
    status) cmd_status ;;
    *)
        echo "usage: $0 {start|stop|restart|status}" >&2
        exit 2
        ;;
esac
