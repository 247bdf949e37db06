"""Finding what a command left running, by its data directory, from /proc."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx


def left_behind(data_dir: Path) -> list[str]:
    """Command lines of live processes (engine, watchdog, worker) that name `data_dir`."""
    marker = str(data_dir.resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state not in ("Z", "X"):
            found.append(f"{entry.name}: {cmdline}")
    return found


def engine_running(data_dir: Path) -> bool:
    return any("redis-server" in line for line in left_behind(data_dir))


def wait_for(check: Callable[[], bool], what: str, limit_s: float = 60.0) -> None:
    """Poll until `check()`; a bound on waiting, not a timing assertion."""
    deadline = time.monotonic() + limit_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_serve(
    ringwatch: list[str], cwd: Path, env: dict[str, str], port: int, *extra: str
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [*ringwatch, "serve", "--port", str(port), *extra],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(cwd / "serve.log", "ab"),  # noqa: SIM115  (the child owns it)
    )

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited: {(cwd / 'serve.log').read_text()[-3000:]}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, "serve to answer /healthz", 180)
    return proc


def ringwatch_command() -> list[str]:
    return [sys.executable, "-m", "ringwatch"]
