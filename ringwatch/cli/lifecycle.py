"""How a command ends: signals become normal exits, children die with their parent.

Python's default SIGTERM kills the process without running `finally` blocks or atexit handlers,
which is how `ringwatch serve` stopped by a supervisor left its embedded engine behind (uvicorn
handles SIGTERM itself, then raises it again once it has shut down, and that second one killed the
process before `serve` could release the engine).
"""

from __future__ import annotations

import ctypes
import signal
import sys
from collections.abc import Callable
from types import FrameType

PR_SET_PDEATHSIG = 1


def _exit_on(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def exit_cleanly_on_signals() -> None:
    """SIGTERM and SIGHUP raise SystemExit, so cleanup (the embedded engine's stop) runs."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on)


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that has the kernel send the child SIGTERM when its parent dies (Linux).

    Only for children spawned from the main thread: the kernel ties it to the spawning thread.
    """
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def preexec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)

    return preexec
