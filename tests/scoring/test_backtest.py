"""A backtest over a hand-built world whose precision and recall are computed by hand below."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from typer.testing import CliRunner

from ringwatch.cli import backtest as backtest_cli
from ringwatch.quality import read_truth
from ringwatch.scoring import parse_strategy
from ringwatch.scoring.backtest import backtest, records_from_file

STRATEGY = """\
id: bt
version: 1
thresholds:
  - {min: 0, action: allow}
  - {min: 50, action: review}
  - {min: 100, action: block}
checkpoints:
  signup:
    rules:
      - &shared_device {id: shared_device, when: "device_accounts >= 2", points: 50,
                        reason: SHARED_DEVICE}
      - &banned_link {id: banned_link, when: "shared_with_banned >= 1", points: 100,
                      reason: BANNED_LINK}
      - {id: disposable, when: email_domain_disposable, points: 10, reason: DISPOSABLE}
  login:
    rules:
      - *banned_link
"""


def ev(n: int, account: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"e{n}", "ts": f"2025-01-01T00:{n:02d}:00Z", "account_id": account,
            "type": kind, **fields}


# a1-a3 fraud on one device; a3 is banned; e1 returns on the device; b* are benign, b6-b8 a
# family sharing a tablet (the false positive).
EVENTS = [
    ev(0, "a1", "signup", device_id="D1", email="a1@gmail.com"),  # dev 0 -> allow
    ev(1, "a2", "signup", device_id="D1", email="a2@yopmail.com"),  # dev 1, disposable 10 -> allow
    ev(2, "a3", "signup", device_id="D1", email="a3@gmail.com"),  # dev 2 -> 50 review
    ev(3, "b1", "signup", device_id="D2", email="b1@yopmail.com"),  # 10 -> allow
    ev(4, "b2", "signup", device_id="D3", email="b2@gmail.com"),
    ev(5, "a3", "enforcement", action="ban"),
    ev(6, "e1", "signup", device_id="D1", email="e1@gmail.com"),  # dev 3 + banned -> 150 block
    ev(7, "b3", "signup", device_id="D4", email="b3@gmail.com"),
    ev(8, "b4", "signup", device_id="D4", email="b4@gmail.com"),  # dev 1 -> allow
    ev(9, "a1", "login", device_id="D1"),  # shares D1 with banned a3 -> 100 block
    ev(10, "b5", "signup", device_id="D5", email="b5@yopmail.com"),  # 10 -> allow
    ev(11, "b6", "signup", device_id="D6", email="b6@gmail.com"),
    ev(12, "b7", "signup", device_id="D6", email="b7@gmail.com"),
    ev(13, "b8", "signup", device_id="D6", email="b8@gmail.com"),  # dev 2 -> 50 review
    ev(14, "b2", "login", device_id="D3"),
]
LABELS = {"a1": "fraud", "a2": "fraud", "a3": "fraud", "e1": "evader"}


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path]:
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in EVENTS) + b"{broken\n")
    truth = tmp_path / "truth.json"
    truth.write_bytes(orjson.dumps({"accounts": 12, "labels": LABELS, "rings": []}))
    return events, truth


def test_precision_and_recall_by_action_and_rule(world: tuple[Path, Path]) -> None:
    events, truth = world
    report = backtest(parse_strategy(STRATEGY), records_from_file(events), read_truth(truth))
    assert (report["accounts"], report["positives"], report["negatives"]) == (12, 4, 8)
    assert report["decisions"] == 14  # 12 signups + 2 logins; the ban is no checkpoint
    # allow: a2 + b1..b7; review: a3, b8; block: a1 (at login), e1.
    assert report["by_action"]["allow"] == {
        "accounts": 8, "positives": 1, "precision": 0.125, "recall": 0.25}
    assert report["by_action"]["review"] == {
        "accounts": 2, "positives": 1, "precision": 0.5, "recall": 0.25}
    assert report["by_action"]["block"] == {
        "accounts": 2, "positives": 2, "precision": 1.0, "recall": 0.5}
    assert report["at_least"]["review"] == {
        "accounts": 4, "positives": 3, "precision": 0.75, "recall": 0.75}
    assert report["negatives_allowed"] == 0.875
    rules = report["by_rule"]
    assert rules["shared_device"] == {"accounts": 3, "positives": 2, "precision": 0.666667,
                                      "recall": 0.5, "decisions": 3, "errors": 0}
    assert rules["banned_link"] == {"accounts": 2, "positives": 2, "precision": 1.0,
                                    "recall": 0.5, "decisions": 2, "errors": 0}
    assert rules["disposable"]["accounts"] == 3
    assert rules["disposable"]["precision"] == pytest.approx(1 / 3, abs=1e-6)
    assert report["by_label"]["evader"]["block"] == 1
    assert report["by_label"]["benign"]["review"] == 1
    assert report["detections_leak_future"] is False


def test_enforcement_outcomes_as_labels(world: tuple[Path, Path]) -> None:
    events, _ = world
    report = backtest(parse_strategy(STRATEGY), records_from_file(events))
    assert report["positives"] == 1  # only a3 was ever banned
    assert report["at_least"]["review"] == {
        "accounts": 4, "positives": 1, "precision": 0.25, "recall": 1.0}


def test_cli_backtest_and_strategy_check(world: tuple[Path, Path], tmp_path: Path) -> None:
    events, truth = world
    strategy = tmp_path / "bt.yaml"
    strategy.write_text(STRATEGY)
    app = typer.Typer()
    backtest_cli.register(app)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["backtest", "--strategy", str(strategy), "--events",
                                      str(events), "--truth", str(truth), "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = orjson.loads(out.read_bytes())
    assert report["by_action"]["block"]["accounts"] == 2
    assert report["rejected_events"] == {"LineError": 1}
    assert "banned_link" in result.output

    result = CliRunner().invoke(app, ["strategy", "check", str(strategy)])
    assert result.exit_code == 0 and "bt@1" in result.output
    strategy.write_text(STRATEGY.replace("device_accounts >= 2", "device_acount >= 2"))
    result = CliRunner().invoke(app, ["strategy", "check", str(strategy)])
    assert result.exit_code == 1
    assert f"{strategy}:10" in result.output and "device_acount" in result.output
