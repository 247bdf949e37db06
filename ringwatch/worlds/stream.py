"""Write events time-ordered with bounded memory: sorted runs on disk, then a k-way merge.

Each serialized line starts with `{"ts":"<fixed-width RFC 3339>"`, so plain byte order of lines
is time order and the merge needs no key function (ties break on the rest of the line, which is
deterministic). Memory holds one chunk of events plus one line per run.
"""

from __future__ import annotations

import heapq
import os
import tempfile
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import Any, BinaryIO

import orjson


class RunWriter:
    def __init__(self, directory: Path) -> None:
        self._dir = tempfile.mkdtemp(prefix=".runs-", dir=directory)

    def path(self, index: int) -> Path:
        return Path(self._dir) / f"run-{index:05d}.jsonl"

    def write_run_at(self, index: int, events: Iterable[dict[str, Any]]) -> int:
        """Sort and write one run; safe to call from forked workers (one file per index)."""
        dumps = orjson.dumps
        lines = [dumps(e) for e in events]
        lines.sort()
        with self.path(index).open("wb") as fh:
            if lines:
                fh.write(b"\n".join(lines))
                fh.write(b"\n")
        return len(lines)

    @property
    def paths(self) -> list[Path]:
        return sorted(Path(self._dir).glob("run-*.jsonl")) if os.path.isdir(self._dir) else []

    def merge_into(self, out: BinaryIO, batch: int = 1 << 14) -> None:
        with ExitStack() as stack:
            runs = [stack.enter_context(p.open("rb", buffering=1 << 20)) for p in self.paths]
            buf: list[bytes] = []
            for line in heapq.merge(*runs):
                buf.append(line)
                if len(buf) >= batch:
                    out.writelines(buf)
                    buf.clear()
            out.writelines(buf)
        self.cleanup()

    def cleanup(self) -> None:
        for p in self.paths:
            p.unlink(missing_ok=True)
        if os.path.isdir(self._dir):
            os.rmdir(self._dir)
