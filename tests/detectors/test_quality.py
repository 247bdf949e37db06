"""Quality on generated worlds (issue 4 targets, fixed seeds) and on the planted fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from ringwatch.detectors.pipeline import detect
from ringwatch.detectors.planted import planted_world
from ringwatch.quality.metrics import evader_metrics, ring_metrics
from tests.detectors.worlds import evaluate_result, snapshot_from_events


def test_planted_fixture_quality() -> None:
    world = planted_world(20_000, seed=3)
    snap = world.build()
    result = detect(snap, seed=0)
    flagged = [r.members for r in result.rings if r.verdict != "benign"]
    planted = [r["members"] for r in world.rings]
    rings = ring_metrics(planted, flagged)  # type: ignore[arg-type]
    members = {a for r in planted for a in r}  # type: ignore[attr-defined]
    flagged_accounts = {a for r in flagged for a in r}
    precision = len(flagged_accounts & members) / len(flagged_accounts)
    recall = len(flagged_accounts & members) / len(members)
    ev = evader_metrics(((e.account_id, [m.banned_id for m in e.matched]) for e in result.evaders),
                        world.repeat_offenders, snap.n_accounts)
    assert rings["recall"] >= 0.85
    assert precision >= 0.9 and recall >= 0.85
    assert ev["recall_top3"] >= 0.85 and ev["false_match_share"] <= 0.01
    family = [set(g["members"]) for g in world.benign_groups if g["kind"] == "family"]
    assert not any(set(r) & f for r in flagged for f in family)


@pytest.mark.slow
@pytest.mark.xfail(reason="issue 4 targets not yet met on ringwatch.worlds (see the note)",
                   strict=False)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_world_targets(tmp_path: Path, seed: int) -> None:
    from ringwatch.worlds import generate

    summary = generate(tmp_path, 100_000, seed)
    snap = snapshot_from_events(summary.events_path)
    result = detect(snap, seed=0)
    m = evaluate_result(result, summary.truth_path)
    assert m["rings"]["recall"] >= 0.90
    assert m["accounts"]["precision"] >= 0.90
    assert m["accounts"]["recall"] >= 0.85
    assert m["false_rings"]["false_ring_share"] <= 0.02
    assert m["evaders"]["recall_top3"] >= 0.90
    assert m["evaders"]["false_match_share"] <= 0.01
