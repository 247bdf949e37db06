"""Detection replayed with a backtest's history: `--detect-every DURATION`.

Live, decisions read the verdicts of the latest detection run, which saw the graph as it stood
when it ran. A backtest that joins one run over the whole history instead lets March's signups
see June's rings. Here detection runs at simulated times t0 + k * every, each over a snapshot
built from only the records with ts <= that time (the builder is fed the same records the
replay sees, in order, and frozen before any later record is added), and decisions until the
next run read that run's results. Ring ids carry over between runs as they do live
(`previous_rings`), so a ring keeps its id as it grows.

The snapshot is built in memory rather than through a store: `SnapshotBuilder.add_record` has
the graph writes' meaning, so the detectors see what a store holding the same events would give.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ringwatch.detectors.pipeline import DetectionResult, DetectParams, detect
from ringwatch.detectors.snapshot import SnapshotBuilder
from ringwatch.features.detections import Detections
from ringwatch.quality.readers import FLAGGED

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str) -> int:
    """'1d', '6h', '90m', '2w' -> seconds (> 0)."""
    m = _DURATION.match(text.lower())
    if m is None:
        raise ValueError(f"{text!r} is not a duration like 1d, 6h, 30m or 2w")
    seconds = int(float(m.group(1)) * _UNITS[m.group(2)])
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return seconds


@dataclass
class DetectionRun:
    at: int  # simulated time, epoch seconds: the run saw records with ts <= at
    accounts: int
    rings_flagged: int
    evaders: int
    seconds: float


@dataclass
class DetectionReplay:
    """Feed every record (before the replay decides on it) to `observe`; when the record lies
    past the next detection time, detection runs first over everything before it, and the new
    `Detections` is returned for the replay to use from this record on."""

    every: int
    params: DetectParams = field(default_factory=DetectParams)
    seed: int = 0
    runs: list[DetectionRun] = field(default_factory=list)
    # account -> simulated time of the first run that put it in a flagged ring / evader match
    first_flagged_ring: dict[str, int] = field(default_factory=dict)
    first_evader: dict[str, int] = field(default_factory=dict)
    _builder: SnapshotBuilder = field(default_factory=SnapshotBuilder)
    _next: int | None = None
    _previous: dict[str, list[str]] = field(default_factory=dict)
    last: DetectionResult | None = None

    def observe(self, rec: Mapping[str, Any]) -> Detections | None:
        ts = int(rec["ts"]) // 1000
        fresh: Detections | None = None
        if self._next is None:
            self._next = ts + self.every
        elif ts > self._next:
            fresh = self.run_at(self._next)
            # Quiet stretches with no events need no runs: the graph did not change.
            skipped = (ts - self._next - 1) // self.every + 1
            self._next += skipped * self.every
        self._builder.add_record(rec)
        return fresh

    def run_at(self, at: int) -> Detections:
        clock = time.perf_counter()
        snapshot = self._builder.build()
        result = detect(snapshot, self._previous or None, seed=self.seed, params=self.params)
        self._previous = {r.ring_id: list(r.members) for r in result.rings}
        self.last = result
        flagged = [r for r in result.rings if r.verdict in FLAGGED]
        for ring in flagged:
            for member in ring.members:
                self.first_flagged_ring.setdefault(member, at)
        for match in result.evaders:
            self.first_evader.setdefault(match.account_id, at)
        self.runs.append(
            DetectionRun(
                at=at,
                accounts=snapshot.n_accounts,
                rings_flagged=len(flagged),
                evaders=len(result.evaders),
                seconds=round(time.perf_counter() - clock, 3),
            )
        )
        return Detections.from_result(result)

    def summary(self) -> dict[str, Any]:
        return {
            "every_seconds": self.every,
            "runs": len(self.runs),
            "first_at": self.runs[0].at if self.runs else None,
            "last_at": self.runs[-1].at if self.runs else None,
            "seconds": round(sum(r.seconds for r in self.runs), 3),
            "rings_flagged_last_run": self.runs[-1].rings_flagged if self.runs else 0,
            "evaders_last_run": self.runs[-1].evaders if self.runs else 0,
        }
