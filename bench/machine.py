"""What every benchmark records about the machine it ran on, so results can be compared."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import orjson

T = TypeVar("T")


def cpu_model() -> str | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or None


def machine_info(load_before: tuple[float, float, float]) -> dict[str, Any]:
    """Load averages before and after matter here: a 2-core machine shared with other work
    gives very different numbers, and the result should say so."""
    return {
        "cpu_count": os.cpu_count(),
        "cpu": cpu_model(),
        "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
    }


def clocked(fn: Callable[..., T], *args: Any) -> tuple[T, float, float]:
    """fn(*args), its wall and CPU seconds: on a shared machine wall time mostly measures the
    neighbours, CPU time the code."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn(*args)
    return result, time.perf_counter() - t0, time.process_time() - c0


def run_in_tree(script: str, code: Path, *args: str) -> dict[str, Any]:
    """Run `script --child CODE ARGS...` in a fresh process with the tree `code`'s ringwatch
    first on the path (to compare two versions in one session); the child prints one JSON
    object as its last line, returned with the load averages around the run."""
    load_before = os.getloadavg()
    out = subprocess.run(
        [sys.executable, script, "--child", str(code), *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(code)},
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["loadavg_before"] = load_before
    result["loadavg_after"] = os.getloadavg()
    return result


def write_result(path: Path, result: dict[str, Any]) -> None:
    """A bench's JSON result, indented, its folder made if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))


def trees(base: Path | None) -> dict[str, Path]:
    """The trees a bench compares: this one ("new") and, with `--base`, the old one."""
    return {"new": Path(__file__).resolve().parents[1]} | ({"old": base} if base else {})


def alternating(codes: dict[str, Path], rounds: int) -> Iterator[tuple[int, str]]:
    """(round, tree name) in run order: the trees' order flips every round, because the
    neighbours' load drifts and neither tree should always run first."""
    for round_ in range(rounds):
        for code in sorted(codes, reverse=round_ % 2 == 1):
            yield round_, code
