"""Watchdog that ends the embedded engine when the process that started it ends.

Run as a script by path (not `-m`), so that it imports nothing of Ringwatch and costs a bare
interpreter. It is a child of the engine's owner, like the engine itself: when the owner dies by
any means (SIGKILL, a crash, a signal Python does not handle) this process is re-parented and sees
its parent id change, and when the data directory is removed (a test's temporary directory, an
operator's `rm -rf`) the engine would otherwise live on serving a deleted append-only file. In both
cases it sends the engine SIGTERM, Redis's own graceful shutdown, and SIGKILL if that is ignored.
It exits on its own once the engine is gone.

    python engine_watch.py ENGINE_PID DATA_DIR
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

POLL_S = 0.5
GRACE_S = 30.0


def alive(pid: int) -> bool:
    """Whether `pid` runs; a zombie (exited, not yet reaped by its parent) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (macOS): signal 0 only says the id exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_S
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def watch(engine_pid: int, data_dir: Path) -> None:
    owner = os.getppid()
    while alive(engine_pid):
        if os.getppid() != owner or not data_dir.is_dir():
            stop(engine_pid)
            return
        time.sleep(POLL_S)


def main(argv: list[str]) -> int:
    # The owner's Ctrl-C reaches its whole foreground process group; the owner stops the engine
    # itself then, so the watchdog must not die first and must not act twice.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch(int(argv[1]), Path(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
