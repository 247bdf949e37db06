"""Full runs through the store with a FanOut: the same rings and ids as the in-process run,
and a failed shard writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ringwatch.errors import Unavailable
from ringwatch.graph.store import GraphStore
from ringwatch.identity import Pseudonymiser
from ringwatch.services import run_files
from ringwatch.services.detection import DetectionService
from ringwatch.services.fanout import FanOut, run_part
from tests.services.histories import FARM, ingest, world

pytestmark = pytest.mark.embedded


def test_sharded_full_run_writes_what_the_in_process_run_does(
    store: GraphStore, hasher: Pseudonymiser, tmp_path: Path
) -> None:
    ingest(store, hasher, "b1", world())

    def send(run_id: str, part: str) -> None:
        run_part(tmp_path, run_id, part)

    sharded = DetectionService(store, seed=3, fanout=FanOut(tmp_path, 2, send, timeout_s=60))
    seen: list[tuple[str, int]] = []
    first, summary = sharded.run_full(progress=lambda stage, n: seen.append((stage, n)))
    assert ("shards", 2) in seen  # the evader part and one Leiden shard (one batch here)
    assert any(k.startswith("detect.shard.") for k in summary.seconds)
    fraud = [r for r in first.rings if r.verdict != "benign"]
    assert [sorted(r.members) for r in fraud] == [FARM]
    # The in-process run on the same store: same result, and it keeps the sharded run's ids.
    plain, _ = DetectionService(store, seed=3).run_full()
    assert [(r.ring_id, r.members, r.score, r.verdict) for r in plain.rings] == [
        (r.ring_id, r.members, r.score, r.verdict) for r in first.rings
    ]
    assert plain.evaders == first.evaders
    assert list(tmp_path.iterdir()) == []


def test_failed_shard_fails_the_full_run_before_any_write(
    store: GraphStore, hasher: Pseudonymiser, tmp_path: Path
) -> None:
    ingest(store, hasher, "b1", world())

    def crash(run_id: str, part: str) -> None:
        run_files.write_json(tmp_path / run_id / f"{part}.error", {"error": "worker crashed"})

    failing = FanOut(tmp_path, 2, crash, timeout_s=60, help_idle=False)
    with pytest.raises(Unavailable, match="worker crashed"):
        DetectionService(store, seed=3, fanout=failing).run_full()
    assert store.active_rings() == {}
    assert store.account_risks(None) == {}
