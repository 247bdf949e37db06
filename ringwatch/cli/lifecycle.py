"""How a command ends: signals become normal exits, children die with their parent.

Python's default SIGTERM kills the process without running `finally` blocks or atexit handlers,
which is how `ringwatch serve` stopped by a supervisor left its embedded engine behind (uvicorn
handles SIGTERM itself, then raises it again once it has shut down, and that second one killed the
process before `serve` could release the engine).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable
from types import FrameType

PR_SET_PDEATHSIG = 1


_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
_forks_reset = False


def _exit_on(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _default_signals() -> None:
    for sig in _SIGNALS:
        signal.signal(sig, signal.SIG_DFL)


def exit_cleanly_on_signals() -> None:
    """SIGTERM and SIGHUP raise SystemExit, so cleanup (the embedded engine's stop) runs.

    In this process only: a forked child (`ringwatch synth`'s render workers) gets the default
    disposition back. The handler raises at the interpreter's next check, which a child
    blocked on a lock never reaches when the signal lands just before it blocks; synth hung
    joining such a worker that `Pool.terminate` had told to stop."""
    global _forks_reset
    for sig in _SIGNALS:
        signal.signal(sig, _exit_on)
    if not _forks_reset:
        os.register_at_fork(after_in_child=_default_signals)
        _forks_reset = True


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
