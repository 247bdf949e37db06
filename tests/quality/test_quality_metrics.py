"""The harness on small hand-made cases whose metric values are worked out by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import typer
from typer.testing import CliRunner

from ringwatch.quality import (
    average_precision,
    evaluate,
    jaccard,
    read_accounts,
    read_evaders,
    read_rings,
    read_truth,
    roc_auc,
)
from ringwatch.quality.readers import ExportError

TRUTH: dict[str, Any] = {
    "format": "ringwatch-truth/1",
    "accounts": 20,
    "default_label": "benign",
    "labels": {
        **{a: "fraud" for a in ("a1", "a2", "a3", "a4")},
        **{a: "underage" for a in ("a5", "a6", "a7")},
        "e1": "evader",
        "e2": "evader",
    },
    "rings": [
        {"ring_id": "R1", "style": "device_farm", "members": ["a1", "a2", "a3", "a4"]},
        {"ring_id": "R2", "style": "underage", "members": ["a5", "a6", "a7"]},
    ],
    "repeat_offenders": [
        {"account_id": "e1", "continues": ["a1"]},
        {"account_id": "e2", "continues": ["a2", "a5"]},
    ],
    "groups": [
        {"group_id": "f", "kind": "family", "members": ["b1", "b2"]},
        {"group_id": "c", "kind": "cgnat", "members": ["b3", "b4", "b5", "a1"]},
    ],
}
RINGS = [
    {"ring_id": "F1", "members": ["a1", "a2", "a3", "b1"], "verdict": "fraud", "score": 0.9},
    {"ring_id": "F2", "members": ["a5", "b3", "b4"], "verdict": "suspicious", "score": 0.5},
    {
        "ring_id": "F3",
        "members": ["a5", "a6", "a7", "b2", "b5", "b6", "b7"],
        "verdict": "benign",
        "score": 0.1,
    },
    {"ring_id": "F4", "members": ["a6", "b8"], "verdict": "fraud", "score": 0.7},
]
EVADERS = [
    {"account_id": "e1", "matched": ["x", "y", "a1", "a2"], "score": 0.8},
    {"account_id": "e2", "matched": ["a5"], "score": 0.9},
    {"account_id": "b9", "matched": ["a3"], "score": 0.4},
    {"account_id": "e1", "matched": ["a1"], "score": 0.1},  # later rows for an account ignored
]
ACCOUNTS = [
    {"account_id": "a1", "score": 0.9, "action": "ban"},
    {"account_id": "b1", "score": 0.8, "action": "review"},
]


def _write(tmp: Path) -> dict[str, Path]:
    paths = {name: tmp / f"{name}.jsonl" for name in ("rings", "evaders", "accounts")}
    for name, rows in (("rings", RINGS), ("evaders", EVADERS), ("accounts", ACCOUNTS)):
        paths[name].write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    paths["truth"] = tmp / "truth.json"
    paths["truth"].write_bytes(orjson.dumps(TRUTH))
    return paths


@pytest.fixture
def report(tmp_path: Path) -> dict[str, Any]:
    p = _write(tmp_path)
    return evaluate(
        read_truth(p["truth"]),
        read_rings(p["rings"]),
        read_evaders(p["evaders"]),
        read_accounts(p["accounts"]),
    )


def test_jaccard() -> None:
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)
    assert jaccard(set(), set()) == 0.0
    assert jaccard(["a", "a"], ["a"]) == 1.0


def test_ring_recall_and_jaccard(report: dict[str, Any]) -> None:
    rings = report["rings"]
    # R1 vs F1: 3 shared of 5 -> 0.6 (matched). R2's best flagged ring is F4: 1 of 4 -> 0.25;
    # F3 overlaps more but its verdict is benign, so it does not count.
    assert rings["planted"] == 2 and rings["flagged"] == 3
    assert rings["matched"] == 1
    assert rings["recall"] == pytest.approx(0.5)
    assert rings["mean_best_jaccard"] == pytest.approx((0.6 + 0.25) / 2)
    assert rings["size_weighted_best_jaccard"] == pytest.approx((4 * 0.6 + 3 * 0.25) / 7)
    assert rings["by_style"] == {"device_farm": 1.0, "underage": 0.0}
    # The style at 0 is named, not averaged away.
    assert rings["by_style_matched"] == {"device_farm": "1/1", "underage": "0/1"}
    assert rings["min_style_recall"] == 0.0 and rings["worst_style"] == "underage"


def test_account_precision_recall(report: dict[str, Any]) -> None:
    acc = report["accounts"]
    # Flagged: a1 a2 a3 b1 | a5 b3 b4 | a6 b8 -> 9 accounts, 5 of them bad.
    assert acc["flagged"] == 9
    assert acc["precision"] == pytest.approx(5 / 9)
    assert acc["recall"] == pytest.approx(5 / 7)  # of the 7 planted ring members
    assert acc["recall_all_bad"] == pytest.approx(5 / 9)  # of all 9 non-benign accounts


def test_false_rings(report: dict[str, Any]) -> None:
    fr = report["false_rings"]
    # F2 is 2/3 benign -> false; F4 is 1/2 benign, not a majority.
    assert fr["false_rings"] == 1
    assert fr["false_ring_share"] == pytest.approx(1 / 3)
    # Benign group accounts b1..b5 (a1 is fraud); flagged among them: b1, b3, b4.
    assert fr["benign_group_accounts_flagged"] == 3
    assert fr["benign_group_accounts_flagged_share"] == pytest.approx(3 / 5)


def test_repeat_offenders(report: dict[str, Any]) -> None:
    ev = report["evaders"]
    assert ev["recall_top3"] == 1.0  # e1: a1 third; e2: a5 first
    assert ev["recall_top1"] == 0.5
    assert ev["false_matches"] == 1  # b9 is not a repeat offender
    assert ev["false_match_share"] == pytest.approx(1 / 20)


def test_score_metrics_count_unscored_accounts_at_the_bottom(report: dict[str, Any]) -> None:
    sc = report["scores"]
    assert sc["scored"] == 2
    assert sc["coverage"] == pytest.approx(0.1)
    # 9 positives, 11 negatives. a1 outranks all 11 negatives; the 8 unscored positives tie
    # with the 10 unscored negatives (half credit each) and lose to b1.
    assert sc["roc_auc"] == pytest.approx((11 + 8 * 10 * 0.5) / (9 * 11))
    y = np.r_[1, 0, np.ones(8), np.zeros(10)]
    s = np.r_[0.9, 0.8, np.full(18, -0.2)]
    assert sc["average_precision"] == pytest.approx(average_precision(y, s))


def test_auc_and_ap_by_hand() -> None:
    y, s = [1, 0, 1, 0], [0.9, 0.8, 0.4, 0.1]
    assert roc_auc(y, s) == pytest.approx(0.75)
    assert average_precision(y, s) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert roc_auc([1, 0], [0.5, 0.5]) == pytest.approx(0.5)
    assert average_precision([1, 0], [0.5, 0.5]) == pytest.approx(0.5)
    assert roc_auc([1, 1], [0.1, 0.2]) is None
    assert average_precision([0, 0], [0.1, 0.2]) is None


def test_auc_and_ap_agree_with_sklearn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(5)
    for _ in range(20):
        y = rng.random(300) < 0.2
        # Rounded scores make plenty of ties, the case that is easy to get wrong.
        s = np.round(rng.random(300) + y * rng.random() * 0.8, 1)
        assert roc_auc(y, s) == pytest.approx(metrics.roc_auc_score(y, s))
        assert average_precision(y, s) == pytest.approx(metrics.average_precision_score(y, s))


def test_bad_exports_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "rings.jsonl"
    bad.write_text('{"ring_id": "x", "members": ["a"], "verdict": "fraud", "score": 1}\n{oops\n')
    with pytest.raises(ExportError, match=r"rings.jsonl:2"):
        read_rings(bad)
    bad.write_text('{"ring_id": "x", "members": ["a"], "verdict": "maybe", "score": 1}\n')
    with pytest.raises(ExportError, match="verdict"):
        read_rings(bad)
    with pytest.raises(ExportError, match="truth"):
        read_truth(bad)


def _app() -> typer.Typer:
    from ringwatch.cli.evaluate import register

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    return app


def test_cli_evaluate_writes_metrics(tmp_path: Path) -> None:
    p = _write(tmp_path)
    out = tmp_path / "m.json"
    args = ["evaluate", "--truth", str(p["truth"]), "--rings", str(p["rings"])]
    args += ["--evaders", str(p["evaders"]), "--accounts", str(p["accounts"]), "-o", str(out)]
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 0, result.output
    assert "recall" in result.output
    metrics = orjson.loads(out.read_bytes())
    assert metrics["rings"]["recall"] == pytest.approx(0.5)
    assert metrics["evaders"]["false_matches"] == 1


def test_cli_evaluate_rejects_bad_input(tmp_path: Path) -> None:
    p = _write(tmp_path)
    p["rings"].write_text("[1, 2]\n")
    args = ["evaluate", "--truth", str(p["truth"]), "--rings", str(p["rings"])]
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code != 0
    assert "expected a JSON object" in result.output


def test_truth_scored_against_itself_is_perfect(tmp_path: Path) -> None:
    from ringwatch.worlds import generate

    summary = generate(tmp_path, 3000, 4, "heavy-fraud", workers=1)
    truth = read_truth(summary.truth_path)
    rings = tmp_path / "rings.jsonl"
    rings.write_bytes(
        b"\n".join(
            orjson.dumps(
                {"ring_id": r["ring_id"], "members": r["members"], "verdict": "fraud", "score": 1.0}
            )
            for r in truth.rings
        )
    )
    evaders = tmp_path / "evaders.jsonl"
    evaders.write_bytes(
        b"\n".join(
            orjson.dumps({"account_id": a, "matched": c, "score": 1.0})
            for a, c in truth.repeat_offenders.items()
        )
    )
    report = evaluate(truth, read_rings(rings), read_evaders(evaders))
    assert report["rings"]["recall"] == 1.0
    assert report["rings"]["size_weighted_best_jaccard"] == 1.0
    assert report["accounts"]["precision"] == 1.0
    assert report["false_rings"]["false_rings"] == 0
    assert report["evaders"]["recall_top1"] == 1.0
    assert report["evaders"]["false_matches"] == 0
