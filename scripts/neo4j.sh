#!/usr/bin/env bash
# Run a real Neo4j 5.26 LTS Community DBMS (embedded, Bolt + auth) for dev/CI.
# Usage: scripts/neo4j.sh {build|start|stop|restart|status|wait|admin ARGS...}
#   admin ARGS...  neo4j-admin for this server's files (e.g. `admin database import full ...`),
#                  from the same Maven artifacts; the server must be stopped for an import.
#
# Env (defaults):
#   NEO4J_PORT=7688                      Bolt port on NEO4J_HOST
#   NEO4J_HOST=127.0.0.1
#   NEO4J_PASSWORD=ringwatch-test-password   user is always "neo4j"
#   NEO4J_HOME_DIR=<repo>/.local/neo4j   pidfile, neo4j.log, logs/
#   NEO4J_DATA_DIR=$NEO4J_HOME_DIR/data
#   NEO4J_BUILD_DIR=<repo>/.local/neo4j/build
#   NEO4J_HEAP=1g                        -Xms/-Xmx
#   NEO4J_PAGECACHE=1g
#   NEO4J_TX_TIMEOUT=0s                  db.transaction.timeout (0s = none)
#   NEO4J_CONF_FILE=                     optional neo4j.conf-style file for extra settings
#   NEO4J_JAVA_OPTS=                     extra JVM flags
#   NEO4J_START_TIMEOUT=120              seconds
#   NEO4J_STOP_TIMEOUT=60                seconds before SIGKILL
#   NEO4J_ADMIN_HEAP=512m                -Xmx of `admin` (an import works mostly off-heap)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
PROJECT_DIR="$SCRIPT_DIR/neo4j"

export NEO4J_PORT="${NEO4J_PORT:-7688}"
export NEO4J_HOST="${NEO4J_HOST:-127.0.0.1}"
export NEO4J_PASSWORD="${NEO4J_PASSWORD:-ringwatch-test-password}"
export NEO4J_HOME_DIR="${NEO4J_HOME_DIR:-$REPO_ROOT/.local/neo4j}"
export NEO4J_DATA_DIR="${NEO4J_DATA_DIR:-$NEO4J_HOME_DIR/data}"
export NEO4J_PAGECACHE="${NEO4J_PAGECACHE:-1g}"
export NEO4J_TX_TIMEOUT="${NEO4J_TX_TIMEOUT:-0s}"
export NEO4J_CONF_FILE="${NEO4J_CONF_FILE:-}"
NEO4J_BUILD_DIR="${NEO4J_BUILD_DIR:-$REPO_ROOT/.local/neo4j/build}"
NEO4J_HEAP="${NEO4J_HEAP:-1g}"
NEO4J_JAVA_OPTS="${NEO4J_JAVA_OPTS:-}"
NEO4J_START_TIMEOUT="${NEO4J_START_TIMEOUT:-120}"
NEO4J_STOP_TIMEOUT="${NEO4J_STOP_TIMEOUT:-60}"

PIDFILE="$NEO4J_HOME_DIR/neo4j.pid"
LOGFILE="$NEO4J_HOME_DIR/neo4j.log"
CLASSPATH_FILE="$NEO4J_BUILD_DIR/classpath.txt"
CLASSES_DIR="$NEO4J_BUILD_DIR/classes"
STAMP="$NEO4J_BUILD_DIR/.built"
READY_LINE="RINGWATCH_NEO4J_READY"
MAIN_CLASS="ringwatch.Neo4jLauncher"

log() { echo "neo4j.sh: $*" >&2; }

build_is_current() {
    [[ -f "$STAMP" && -f "$CLASSPATH_FILE" && -f "$CLASSES_DIR/ringwatch/Neo4jLauncher.class" ]] || return 1
    if [[ -n "$(find "$PROJECT_DIR/pom.xml" "$PROJECT_DIR/src" -newer "$STAMP" -type f -print -quit)" ]]; then
        return 1
    fi
    # The classpath points into ~/.m2; a wiped or different Maven cache needs a rebuild.
    local jar
    while IFS= read -r -d ':' jar; do
        [[ -z "$jar" || -f "$jar" ]] || return 1
    done < <(tr -d '\n' <"$CLASSPATH_FILE"; printf ':')
    return 0
}

cmd_build() {
    if build_is_current; then
        return 0
    fi
    command -v mvn >/dev/null || { log "mvn not found (apt-get install -y maven)"; return 1; }
    command -v java >/dev/null || { log "java not found (apt-get install -y openjdk-17-jdk-headless)"; return 1; }
    log "building launcher into $NEO4J_BUILD_DIR (first run downloads Neo4j jars into ~/.m2)"
    mkdir -p "$NEO4J_BUILD_DIR"
    local out
    if ! out=$(mvn -q -B -Dstyle.color=never -f "$PROJECT_DIR/pom.xml" \
        -Dringwatch.build.dir="$NEO4J_BUILD_DIR" compile 2>&1); then
        printf '%s\n' "$out" >&2
        log "maven build failed"
        return 1
    fi
    touch "$STAMP"
}

read_pid() {
    [[ -f "$PIDFILE" ]] || return 1
    local pid
    pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    # Guard against a stale pidfile whose pid was reused by an unrelated process.
    kill -0 "$pid" 2>/dev/null || return 1
    local cmdline
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ "$cmdline" == *"$MAIN_CLASS"* ]] || return 1
    echo "$pid"
}

port_open() {
    (exec 3<>"/dev/tcp/$NEO4J_HOST/$NEO4J_PORT") 2>/dev/null
}

is_ready() {
    grep -q "$READY_LINE" "$LOGFILE" 2>/dev/null && port_open
}

cmd_status() {
    local pid
    if pid=$(read_pid); then
        if is_ready; then
            echo "neo4j running (pid $pid) bolt://$NEO4J_HOST:$NEO4J_PORT ready"
        else
            echo "neo4j running (pid $pid) bolt://$NEO4J_HOST:$NEO4J_PORT not ready yet"
        fi
        return 0
    fi
    echo "neo4j not running"
    return 1
}

fail_with_log() {
    log "$1"
    if [[ -f "$LOGFILE" ]]; then
        log "last lines of $LOGFILE:"
        tail -n 60 "$LOGFILE" >&2
    fi
    return 1
}

# Whether the process we just started lives. Its command line names the main class only once
# the forked shell has exec'd nohup: on a loaded machine read_pid saw the shell and called a
# starting server dead (a fresh `make test` failed so while a benchmark ran beside it).
child_alive() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n "$state" && "$state" != "Z" ]]
}

# cmd_wait [PID]: wait for readiness; PID is the server this script has just started.
cmd_wait() {
    local child="${1:-}"
    local deadline=$((SECONDS + NEO4J_START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if [[ -n "$child" ]]; then
            if ! child_alive "$child"; then
                fail_with_log "neo4j process is not running"
                return 1
            fi
        elif ! read_pid >/dev/null; then
            fail_with_log "neo4j process is not running"
            return 1
        fi
        if is_ready; then
            return 0
        fi
        sleep 0.5
    done
    fail_with_log "neo4j not ready after ${NEO4J_START_TIMEOUT}s"
}

cmd_start() {
    local pid
    if pid=$(read_pid); then
        log "already running (pid $pid) on bolt://$NEO4J_HOST:$NEO4J_PORT"
        cmd_wait
        return
    fi
    if port_open; then
        log "port $NEO4J_HOST:$NEO4J_PORT is already in use by another process"
        return 1
    fi
    cmd_build
    mkdir -p "$NEO4J_HOME_DIR" "$NEO4J_DATA_DIR"
    rm -f "$PIDFILE"
    local started=$SECONDS
    local cp
    cp="$CLASSES_DIR:$(tr -d '\n' <"$CLASSPATH_FILE")"
    # The --add-opens/netty flags mirror what Neo4j's own server launcher passes on Java 17.
    # shellcheck disable=SC2086
    nohup java \
        -Xms"$NEO4J_HEAP" -Xmx"$NEO4J_HEAP" \
        -XX:+UseG1GC -XX:-OmitStackTraceInFastThrow -XX:+DisableExplicitGC \
        -XX:+UnlockDiagnosticVMOptions -XX:+DebugNonSafepoints \
        -Djdk.nio.maxCachedBufferSize=1024 -Dio.netty.tryReflectionSetAccessible=true \
        -Dlog4j2.disable.jmx=true \
        --add-opens=java.base/java.nio=ALL-UNNAMED \
        --add-opens=java.base/java.io=ALL-UNNAMED \
        --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
        --add-opens=java.base/java.lang=ALL-UNNAMED \
        $NEO4J_JAVA_OPTS \
        -cp "$cp" "$MAIN_CLASS" >"$LOGFILE" 2>&1 </dev/null 9>&- &
    echo $! >"$PIDFILE"
    local child=$!
    log "started pid $child (log: $LOGFILE), waiting up to ${NEO4J_START_TIMEOUT}s for readiness"
    cmd_wait "$child"
    log "ready on bolt://$NEO4J_HOST:$NEO4J_PORT after $((SECONDS - started))s"
}

# neo4j-admin is org.neo4j.cli.AdminTool from neo4j-command-line, with the import command
# (neo4j-import-tool) found through its service loader: both are already on the server's
# classpath. It reads NEO4J_HOME and NEO4J_CONF; the conf written here points it at the data
# directory the launcher serves.
cmd_admin() {
    cmd_build
    local conf_dir="$NEO4J_HOME_DIR/admin-conf"
    mkdir -p "$conf_dir" "$NEO4J_DATA_DIR" "$NEO4J_HOME_DIR/logs"
    {
        echo "server.directories.data=$NEO4J_DATA_DIR"
        echo "server.directories.logs=$NEO4J_HOME_DIR/logs"
        if [[ -n "$NEO4J_CONF_FILE" ]]; then cat "$NEO4J_CONF_FILE"; fi
    } >"$conf_dir/neo4j.conf"
    local cp
    cp="$CLASSES_DIR:$(tr -d '\n' <"$CLASSPATH_FILE")"
    NEO4J_HOME="$NEO4J_HOME_DIR" NEO4J_CONF="$conf_dir" exec java \
        -Xmx"${NEO4J_ADMIN_HEAP:-512m}" -XX:+UseG1GC \
        --add-opens=java.base/java.nio=ALL-UNNAMED \
        --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
        --add-opens=java.base/java.lang=ALL-UNNAMED \
        -cp "$cp" org.neo4j.cli.AdminTool "$@"
}

cmd_stop() {
    local pid
    if ! pid=$(read_pid); then
        rm -f "$PIDFILE"
        log "not running"
        return 0
    fi
    log "stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + NEO4J_STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "still running after ${NEO4J_STOP_TIMEOUT}s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    rm -f "$PIDFILE"
    log "stopped"
}

# Serialise concurrent start/stop calls (e.g. parallel test sessions) on one home dir.
lock() {
    mkdir -p "$NEO4J_HOME_DIR"
    exec 9>"$NEO4J_HOME_DIR/.lock"
    flock 9
}

case "${1:-}" in
    build) lock && cmd_build ;;
    start) lock && cmd_start ;;
    stop) lock && cmd_stop ;;
    restart) lock && cmd_stop && cmd_start ;;
    status) cmd_status ;;
    wait) cmd_wait ;;
    admin) shift && lock && cmd_admin "$@" ;;
    *)
        echo "usage: $0 {build|start|stop|restart|status|wait|admin ARGS...}" >&2
        exit 2
        ;;
esac
