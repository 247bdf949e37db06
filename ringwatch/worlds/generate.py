"""Orchestrate a world: plan it, render chunks (in parallel where cores allow), merge, truth."""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from ringwatch.worlds.build import build_world
from ringwatch.worlds.emit import ChunkContext, chunk_events
from ringwatch.worlds.profiles import get_profile
from ringwatch.worlds.stream import RunWriter
from ringwatch.worlds.truth import build_truth

CHUNK = 10_000  # accounts per sorted run; fixed so the output never depends on the machine


@dataclass(frozen=True)
class SynthSummary:
    accounts: int
    events: int
    links: int
    rings: int
    ring_members: int
    repeat_offenders: int
    groups: int
    events_bytes: int
    truth_bytes: int
    seconds: float
    events_path: Path
    truth_path: Path


# Set in the parent before forking, so workers share the plan copy-on-write.
_CTX: ChunkContext | None = None
_RUNS: RunWriter | None = None


def _render(chunk: int) -> tuple[int, int, int, int]:
    assert _CTX is not None and _RUNS is not None
    # Millions of short-lived dicts make the cyclic GC rescan endlessly; nothing here is cyclic.
    gc.disable()
    lo = chunk * CHUNK
    hi = min(_CTX.w.n, lo + CHUNK)
    events, links = chunk_events(_CTX, lo, hi, chunk)
    n_events = _RUNS.write_run_at(chunk, events)
    del events
    # The per-account closures do form small cycles; one collection per chunk frees them.
    gc.collect()
    return chunk, hi - lo, n_events, links


def generate(
    outdir: Path,
    accounts: int,
    seed: int,
    profile: str = "default",
    *,
    workers: int | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> SynthSummary:
    """Write outdir/events.jsonl and outdir/truth.json; progress gets (phase, accounts done)."""
    global _CTX, _RUNS
    started = time.perf_counter()
    outdir.mkdir(parents=True, exist_ok=True)
    world = build_world(accounts, seed, get_profile(profile))
    _CTX = ChunkContext(world)
    _RUNS = RunWriter(outdir)
    n_chunks = (accounts + CHUNK - 1) // CHUNK
    n_workers = workers or min(2, os.cpu_count() or 1)
    events = links = done = 0
    try:
        if n_workers > 1 and n_chunks > 1 and "fork" in mp.get_all_start_methods():
            pool = mp.get_context("fork").Pool(n_workers)
            try:
                for _, k, e, li in pool.imap_unordered(_render, range(n_chunks)):
                    done, events, links = done + k, events + e, links + li
                    if progress:
                        progress("render", done)
                # Workers leave on the pool's own sentinels: terminating them (what leaving a
                # `with Pool` does) signals workers that may be entering a blocking lock.
                pool.close()
            except BaseException:
                pool.terminate()
                raise
            finally:
                pool.join()
        else:
            try:
                for c in range(n_chunks):
                    _, k, e, li = _render(c)
                    done, events, links = done + k, events + e, links + li
                    if progress:
                        progress("render", done)
            finally:
                gc.enable()
        if progress:
            progress("merge", done)
        events_path = outdir / "events.jsonl"
        with events_path.open("wb", buffering=1 << 20) as fh:
            _RUNS.merge_into(fh)
    finally:
        _RUNS.cleanup()
        _RUNS = None
    truth = build_truth(world)
    truth_path = outdir / "truth.json"
    truth_path.write_bytes(orjson.dumps(truth))
    _CTX = None
    return SynthSummary(
        accounts=accounts,
        events=events,
        links=links,
        rings=len(truth["rings"]),
        ring_members=sum(r["size"] for r in truth["rings"]),
        repeat_offenders=len(truth["repeat_offenders"]),
        groups=len(truth["groups"]),
        events_bytes=events_path.stat().st_size,
        truth_bytes=truth_path.stat().st_size,
        seconds=time.perf_counter() - started,
        events_path=events_path,
        truth_path=truth_path,
    )
