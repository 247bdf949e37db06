"""A sharded full run (services/fanout.py) gives exactly `detect()`'s result: same rings, ids,
verdicts, scores, evidence, evader matches and risk, with 1, 2 and 3 shards.

Shards run here three ways: by the coordinator when no worker starts them (`help_idle`), as
the message is sent (an eager Celery app does the same), and in a real Celery worker process
(tests/workers/test_fanout_worker.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ringwatch.detectors.communities import leiden_cpm, leiden_plan
from ringwatch.detectors.pipeline import DetectionResult, DetectParams, detect, weighted_graph
from ringwatch.detectors.snapshot import Snapshot
from ringwatch.errors import Unavailable
from ringwatch.services import run_files
from ringwatch.services.fanout import FanOut, run_part, shard_batches
from tests.detectors.worlds import cached_world
from tests.services.fanout_cases import check_same, hand_built

# Small batches, so that a 20k world's components fall into many batches and 2 or 3 shards
# each get several (the default, 200k accounts, is one batch below ~200k linked accounts).
SMALL_BATCHES = DetectParams(leiden_batch_nodes=400)


def send_now(root: Path) -> Callable[[str, str], None]:
    """A shard computed as its message is sent (what an eager Celery app does)."""

    def send(run_id: str, part: str) -> None:
        run_part(root, run_id, part)

    return send


def nobody(run_id: str, part: str) -> None:
    """No worker: the coordinator runs every part itself, through the same files."""


@pytest.mark.parametrize("shards", [1, 2, 3])
def test_hand_built_graph_sharded_equals_detect(tmp_path: Path, shards: int) -> None:
    snap = hand_built()
    params = DetectParams(leiden_batch_nodes=2)
    plan = leiden_plan(weighted_graph(snap, params)[0], min_component=3, batch_nodes=2)
    assert plan.n_batches >= 3  # one batch per farm at least: shards really split the work
    expected = detect(snap, seed=5, params=params)
    assert sum(r.verdict == "fraud" for r in expected.rings) >= 3
    assert [e.account_id for e in expected.evaders] == ["newcomer"]
    fan = FanOut(tmp_path, shards, send_now(tmp_path), timeout_s=60)
    check_same(fan.detect(snap, seed=5, params=params), expected)
    assert list(tmp_path.iterdir()) == []  # the run's files are gone


@pytest.fixture(scope="module")
def world() -> Snapshot:
    snap, _ = cached_world(1, 20_000, "default")
    return snap


@pytest.fixture(scope="module")
def world_expected(world: Snapshot) -> tuple[DetectionResult, DetectionResult]:
    """The in-process run, and a second one against the first's rings (ids carried over)."""
    first = detect(world, seed=3, params=SMALL_BATCHES)
    previous = {r.ring_id: list(r.members) for r in first.rings[::2]}
    second = detect(world, previous, seed=3, params=SMALL_BATCHES)
    return first, second


@pytest.mark.parametrize("shards", [1, 2, 3])
def test_generated_world_sharded_equals_detect(
    tmp_path: Path,
    world: Snapshot,
    world_expected: tuple[DetectionResult, DetectionResult],
    shards: int,
) -> None:
    first, second = world_expected
    assert len(first.rings) > 100 and len(first.evaders) > 10
    plan = leiden_plan(weighted_graph(world, SMALL_BATCHES)[0], batch_nodes=400)
    assert plan.n_batches > 3 * shards
    fan = FanOut(tmp_path, shards, nobody, timeout_s=600)
    check_same(fan.detect(world, seed=3, params=SMALL_BATCHES), first)
    previous = {r.ring_id: list(r.members) for r in first.rings[::2]}
    fan = FanOut(tmp_path, shards, send_now(tmp_path), timeout_s=600)
    got = fan.detect(world, previous, seed=3, params=SMALL_BATCHES)
    check_same(got, second)
    assert any(h["event"] != "new" for h in got.history)  # ids matched to the previous run


def test_default_batches_sharded_equals_detect(tmp_path: Path, world: Snapshot) -> None:
    """With the default batch size a 20k world is one Leiden batch: one shard gets it, the
    others nothing, and the result is still detect()'s."""
    fan = FanOut(tmp_path, 2, send_now(tmp_path), timeout_s=600)
    check_same(fan.detect(world, seed=2), detect(world, seed=2))


def test_leiden_batches_assemble_like_leiden_cpm(world: Snapshot) -> None:
    from ringwatch.detectors.communities import leiden_assemble, leiden_batches

    weights = weighted_graph(world, SMALL_BATCHES)[0]
    whole = leiden_cpm(weights, seed=4, batch_nodes=400)
    plan = leiden_plan(weights, batch_nodes=400)
    parts: dict[int, np.ndarray] = {}
    for batches in shard_batches(plan, 3)[::-1]:  # shards in any order
        parts.update(leiden_batches(plan, batches, seed=4))
    assert np.array_equal(leiden_assemble(plan, parts).labels, whole.labels)
    with pytest.raises(ValueError, match="missing"):
        leiden_assemble(plan, {b: m for b, m in parts.items() if b != 0})


def test_shard_batches_balances_and_covers() -> None:
    import scipy.sparse as sp

    from ringwatch.detectors.communities import LeidenPlan

    cuts = np.cumsum([0, 50, 10, 10, 10, 10, 5, 5])
    plan = LeidenPlan(sp.csr_matrix((100, 100)), np.zeros(100, np.int64), np.arange(100), cuts)
    out = shard_batches(plan, 2)
    assert sorted(b for s in out for b in s) == list(range(7))
    assert [int(sum(plan.batch_sizes()[s])) for s in out] == [50, 50]
    assert shard_batches(plan, 9)[7:] == [[], []]


def test_snapshot_files_round_trip(tmp_path: Path) -> None:
    snap = hand_built()
    run_files.save_snapshot(tmp_path / "s.npz", snap)
    back = run_files.load_snapshot(tmp_path / "s.npz")
    for f in dataclasses.fields(Snapshot):
        a, b = getattr(snap, f.name), getattr(back, f.name)
        if a is None:
            assert b is None
        elif hasattr(a, "toarray"):
            assert (a != b).nnz == 0 and a.dtype == b.dtype
        else:
            assert np.array_equal(a, b) and a.dtype == b.dtype, f.name


def test_failed_shard_fails_the_run_and_leaves_no_files(tmp_path: Path) -> None:
    def broken(run_id: str, part: str) -> None:
        if part == "leiden-1":
            # What a crashing worker leaves: its error, recorded for the coordinator.
            run_files.write_json(tmp_path / run_id / f"{part}.error", {"error": "boom"})
        else:
            run_part(tmp_path, run_id, part)

    fan = FanOut(tmp_path, 2, broken, timeout_s=60, help_idle=False)
    with pytest.raises(Unavailable, match=r"leiden-1.*boom"):
        fan.detect(hand_built(), params=DetectParams(leiden_batch_nodes=2))
    assert list(tmp_path.iterdir()) == []


def test_shard_nobody_runs_times_out(tmp_path: Path) -> None:
    fan = FanOut(tmp_path, 2, nobody, timeout_s=0.3, help_idle=False)
    with pytest.raises(Unavailable, match="not finished within"):
        fan.detect(hand_built())
    assert list(tmp_path.iterdir()) == []


def test_run_part_is_idempotent_and_refuses_bad_names(tmp_path: Path) -> None:
    from ringwatch.errors import Invalid

    assert run_part(tmp_path, "gone", "evaders")["skipped"] == "run ended"
    with pytest.raises(Invalid):
        run_part(tmp_path, "../escape", "evaders")
    folder = tmp_path / "r1"
    folder.mkdir()
    snap = hand_built()
    run_files.save_snapshot(folder / "snapshot.npz", snap)
    run_files.write_json(folder / "run.json", run_files.params_record(DetectParams(), 0))
    first = run_part(tmp_path, "r1", "evaders")
    assert "cpu" in first
    assert run_part(tmp_path, "r1", "evaders")["skipped"] == "done"
    with pytest.raises(Invalid):
        run_part(tmp_path, "r1", "leiden-x")


def test_shard_params_round_trip() -> None:
    params = DetectParams(resolution=0.3, n_iterations=-1, use_linkage=False)
    back, seed = run_files.shard_params(run_files.params_record(params, 7))
    assert seed == 7
    assert (back.resolution, back.n_iterations, back.use_linkage) == (0.3, -1, False)
    assert back.evaders == params.evaders and back.linkage == params.linkage
