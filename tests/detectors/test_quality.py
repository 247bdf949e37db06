"""Quality on generated worlds (issue 4 targets, fixed seeds) and on the planted fixture."""

from __future__ import annotations

from typing import Any

import pytest

from ringwatch.detectors.pipeline import detect
from ringwatch.quality.metrics import evader_metrics, ring_metrics
from tests.detectors.planted import planted_world
from tests.detectors.worlds import cached_world, evaluate_result


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
    ev = evader_metrics(
        ((e.account_id, [m.banned_id for m in e.matched]) for e in result.evaders),
        world.repeat_offenders,
        snap.n_accounts,
    )
    assert rings["recall"] >= 0.85
    assert precision >= 0.9 and recall >= 0.85
    assert ev["recall_top3"] >= 0.85 and ev["false_match_share"] <= 0.01
    family = [set(g["members"]) for g in world.benign_groups if g["kind"] == "family"]
    assert not any(set(r) & f for r in flagged for f in family)


# Issue 4 targets on generated 100k-account default worlds, seeds 1-3. The Snapshot of each world
# is cached under .local/cache/worlds/ (the first run generates and parses it, a few minutes per
# seed). Measured (seeds 1/2/3; hold-out seed 11 in brackets, not tested here): ring recall
# 0.900/0.906/0.922 (0.906), account precision 0.988/0.992/0.984 (0.996), account recall
# 0.963/0.966/0.956 (0.963), benign-majority flagged rings 1.9%/1.0%/0.7% (0.7%), evader top-3
# recall 0.929/0.927/0.910 (0.920), evader false matches 0.37%/0.32%/0.31% of accounts (0.42%).
SEEDS = [1, 2, 3]


@pytest.fixture(scope="module", params=SEEDS, ids=[f"seed{s}" for s in SEEDS])
def world_metrics(request: pytest.FixtureRequest) -> dict[str, Any]:
    snap, truth_path = cached_world(request.param, 100_000, "default")
    return evaluate_result(detect(snap, seed=0), truth_path)


@pytest.mark.slow
def test_generated_world_ring_recall(world_metrics: dict[str, Any]) -> None:
    assert world_metrics["rings"]["recall"] >= 0.90


@pytest.mark.slow
def test_generated_world_account_precision_and_recall(world_metrics: dict[str, Any]) -> None:
    assert world_metrics["accounts"]["precision"] >= 0.90
    assert world_metrics["accounts"]["recall"] >= 0.85


@pytest.mark.slow
def test_generated_world_false_ring_share(world_metrics: dict[str, Any]) -> None:
    assert world_metrics["false_rings"]["false_ring_share"] <= 0.02


@pytest.mark.slow
def test_generated_world_evaders(world_metrics: dict[str, Any]) -> None:
    assert world_metrics["evaders"]["recall_top3"] >= 0.90
    assert world_metrics["evaders"]["false_match_share"] <= 0.01


@pytest.mark.slow
def test_a_smaller_platform_is_not_flooded_with_false_rings() -> None:
    """The demo's 20k-account world (seed 7): carrier-NAT blocks hold only hundreds of
    accounts there, under caps sized for bigger platforms. A version that linked accounts
    sharing two such blocks flagged 65-account groups of strangers (precision 0.75); now
    precision 0.996 and no benign-majority flagged ring."""
    snap, truth_path = cached_world(7, 20_000, "default")
    metrics = evaluate_result(detect(snap, seed=0), truth_path)
    assert metrics["accounts"]["precision"] >= 0.90
    assert metrics["false_rings"]["false_ring_share"] <= 0.02
