"""A full detection run fanned out over Celery workers, with the result of one `detect()`.

The coordinator (the process running the full run) keeps every global step and hands out the
parts that do not depend on each other (docs/scale.md, "Detection fans out"):

- `evaders`: the evader matcher and Fellegi-Sunter linkage over the whole snapshot (new
  accounts against banned ones; the costliest stage at 1M accounts), one task, sent first so it
  runs while the coordinator builds the weighted graph;
- `leiden-<k>`: Leiden/CPM over shard k's batches of whole connected components. Batch b's
  RNG is seeded with (seed, b) and sees only its own components, so a batch partitions the
  same in any process; shards are whole batches, balanced by accounts.

Meanwhile the coordinator computes engagement rings and trust, then waits. Only after every
part is back does it assemble the partition and run the global steps of `detect` (strong-
bridge and infrastructure merges across components, verdict calibration over all rings, ring
ids against the previous run, evidence, risk), so nothing is written before all shards are
merged. A part that failed fails the run with `Unavailable` (the full-run task retries); a part
that no worker has started by the time the coordinator is idle is run by the coordinator
itself, so a deployment whose only worker slot holds the coordinator cannot deadlock.

Payloads: a task message carries the run id and the part name; arrays go through the run's
directory (services/run_files.py), which must be shared by the coordinator and the workers
(one machine, or a shared volume). The directory is removed when the run ends.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ringwatch.detectors.calibration import USE_PRIOR, VerdictModel
from ringwatch.detectors.communities import LeidenPlan, leiden_batches
from ringwatch.detectors.pipeline import (
    DetectionResult,
    DetectParams,
    Laps,
    communities_of,
    evader_part,
    finish,
    prepare,
    side_part,
)
from ringwatch.detectors.snapshot import Snapshot
from ringwatch.errors import Invalid, Problem, Unavailable
from ringwatch.services import run_files

log = logging.getLogger(__name__)

EVADERS = "evaders"
LEIDEN = "leiden-"

# (run id, part name): sends one shard task (by name, services.tasks.DETECT_SHARD).
SendPart = Callable[[str, str], None]


def shard_batches(plan: LeidenPlan, shards: int) -> list[list[int]]:
    """Leiden batches per shard: largest batch first onto the shard with the fewest accounts
    (ties: the lower shard), each shard's batches in ascending order. Deterministic, and it
    does not matter for the result: every grouping assembles the same partition.

    >>> import numpy as np, scipy.sparse as sp
    >>> plan = LeidenPlan(sp.csr_matrix((9, 9)), np.zeros(9, np.int64), np.arange(9),
    ...                   np.array([0, 5, 7, 8, 9]))
    >>> shard_batches(plan, 2)
    [[0], [1, 2, 3]]
    """
    if shards < 1:
        raise ValueError("shards must be >= 1")
    sizes = plan.batch_sizes()
    load = [0] * shards
    out: list[list[int]] = [[] for _ in range(shards)]
    for b in sorted(range(plan.n_batches), key=lambda b: (-int(sizes[b]), b)):
        k = min(range(shards), key=lambda k: (load[k], k))
        out[k].append(b)
        load[k] += int(sizes[b])
    return [sorted(batches) for batches in out]


@dataclass
class FanOut:
    """The coordinator of sharded full runs.

    root: the runs directory (one subdirectory per run), readable and writable by the workers.
    shards: how many Leiden shard tasks a run is cut into (at most one per batch).
    send: sends one part's task; `help_idle`: the coordinator runs parts no worker started.
    """

    root: Path
    shards: int
    send: SendPart
    timeout_s: float = 3600.0
    poll_s: float = 0.05
    help_idle: bool = True

    def detect(
        self,
        snapshot: Snapshot,
        previous_rings: Mapping[str, Sequence[str]] | None = None,
        *,
        seed: int = 0,
        params: DetectParams = DetectParams(),
        labels: np.ndarray | None = None,
        verdict_model: VerdictModel | str = USE_PRIOR,
        trust_labels: np.ndarray | None = None,
        run_id: str | None = None,
        progress: Callable[[str, int], None] | None = None,
    ) -> DetectionResult:
        """`detect(snapshot, ...)` with its per-component parts run as shard tasks."""
        if self.shards < 1:
            raise Invalid("shards must be >= 1", [Problem("shards", "must be >= 1")])
        run_id = run_id or f"run-{uuid.uuid4().hex}"
        folder = run_files.run_dir(self.root, run_id)
        folder.mkdir(parents=True, exist_ok=False)
        try:
            return self._detect(
                folder, run_id, snapshot, previous_rings, seed, params, labels,
                verdict_model, trust_labels, progress,
            )  # fmt: skip
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _detect(
        self,
        folder: Path,
        run_id: str,
        snapshot: Snapshot,
        previous_rings: Mapping[str, Sequence[str]] | None,
        seed: int,
        params: DetectParams,
        labels: np.ndarray | None,
        verdict_model: VerdictModel | str,
        trust_labels: np.ndarray | None,
        progress: Callable[[str, int], None] | None,
    ) -> DetectionResult:
        lap = Laps()
        run_files.save_snapshot(folder / "snapshot.npz", snapshot)
        run_files.write_json(folder / "run.json", run_files.params_record(params, seed))
        lap("fanout_write_snapshot")
        self.send(run_id, EVADERS)
        prepared = prepare(snapshot, params, lap)
        shards = [s for s in shard_batches(prepared.plan, self.shards) if s]
        run_files.save_plan(folder / "plan.npz", prepared.plan)
        run_files.write_json(folder / "shards.json", shards)
        lap("fanout_write_plan")
        parts = [EVADERS] + [f"{LEIDEN}{k}" for k in range(len(shards))]
        for part in parts[1:]:
            self.send(run_id, part)
        side = side_part(snapshot, params, labels, trust_labels, lap)
        self._wait(folder, parts, progress)
        lap("fanout_wait")
        memberships: dict[int, np.ndarray] = {}
        for k in range(len(shards)):
            memberships.update(run_files.load_memberships(folder / f"{LEIDEN}{k}.npz"))
        partition = communities_of(prepared, memberships, params)
        evaders = run_files.load_evaders(folder)
        lap("fanout_merge")
        result = finish(
            prepared,
            partition,
            evaders,
            side,
            previous_rings,
            seed=seed,
            params=params,
            labels=labels,
            verdict_model=verdict_model,
            lap=lap,
        )
        for name, seconds in sorted(_shard_seconds(folder, parts).items()):
            result.timings[name] = seconds
        return result

    def _wait(
        self, folder: Path, parts: list[str], progress: Callable[[str, int], None] | None
    ) -> None:
        deadline = time.monotonic() + self.timeout_s
        pending = list(parts)
        while pending:
            for part in list(pending):
                error = folder / f"{part}.error"
                if error.exists():
                    reason = run_files.read_json(error).get("error", "unknown error")
                    raise Unavailable(f"detection shard {part} of {folder.name} failed: {reason}")
                if (folder / f"{part}.done").exists():
                    pending.remove(part)
                    if progress is not None:
                        progress("shards", len(parts) - len(pending))
            idle = [p for p in pending if not (folder / f"{p}.started").exists()]
            if self.help_idle and idle:
                part = idle[0]
                log.info("detect.shard %s of %s: no worker started it, running it here", part,
                         folder.name)  # fmt: skip
                try:
                    run_part(self.root, folder.name, part)
                except Exception as exc:
                    raise Unavailable(
                        f"detection shard {part} of {folder.name} failed: {exc}"
                    ) from exc
                continue
            if not pending:
                break
            if time.monotonic() > deadline:
                raise Unavailable(
                    f"detection shards {pending} of {folder.name} not finished within "
                    f"{self.timeout_s:.0f} s (is a worker consuming the detect.shard tasks?)"
                )
            time.sleep(self.poll_s)


def run_part(root: Path, run_id: str, part: str) -> dict[str, Any]:
    """Compute one part of a sharded run from its files (what the shard task runs).

    Idempotent: a part already done, or of a run that has ended (its directory removed), is
    skipped; a part computed twice writes the same files again. A failure is recorded for the
    coordinator (`<part>.error`) and raised.
    """
    folder = run_files.run_dir(root, run_id)
    if not (folder / "run.json").exists():
        return {"run_id": run_id, "part": part, "skipped": "run ended"}
    if (folder / f"{part}.done").exists():
        return {"run_id": run_id, "part": part, "skipped": "done"}
    if part != EVADERS and not (part.startswith(LEIDEN) and part[len(LEIDEN) :].isdigit()):
        raise Invalid(f"part: unknown part {part!r}", [Problem("part", "unknown")])
    run_files.write_json(folder / f"{part}.started", {"pid": os.getpid()})
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        params, seed = run_files.shard_params(run_files.read_json(folder / "run.json"))
        if part == EVADERS:
            snapshot = run_files.load_snapshot(folder / "snapshot.npz")
            run_files.save_evaders(folder, evader_part(snapshot, params))
        else:
            shard = int(part[len(LEIDEN) :])
            batches = run_files.read_json(folder / "shards.json")[shard]
            plan = run_files.load_plan(folder / "plan.npz")
            memberships = leiden_batches(
                plan,
                batches,
                resolution=params.resolution,
                seed=seed,
                n_iterations=params.n_iterations,
            )
            run_files.save_memberships(folder / f"{part}.npz", memberships)
    except Exception as exc:
        if folder.exists():
            reason = f"{type(exc).__name__}: {exc}"
            run_files.write_json(folder / f"{part}.error", {"error": reason})
        raise
    seconds = {
        "wall": round(time.perf_counter() - wall, 4),
        "cpu": round(time.process_time() - cpu, 4),
        "pid": os.getpid(),
    }
    run_files.write_json(folder / f"{part}.done", seconds)
    return {"run_id": run_id, "part": part, **seconds}


def _shard_seconds(folder: Path, parts: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in parts:
        done = run_files.read_json(folder / f"{part}.done")
        out[f"shard.{part}.wall"] = float(done["wall"])
        out[f"shard.{part}.cpu"] = float(done["cpu"])
    return out
