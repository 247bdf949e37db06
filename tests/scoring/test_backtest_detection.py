"""`backtest --detect-every`: detection replayed at simulated times sees only the past."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from typer.testing import CliRunner

from ringwatch.cli import backtest as backtest_cli
from ringwatch.detectors.pipeline import DetectionResult
from ringwatch.detectors.snapshot import Snapshot
from ringwatch.quality.readers import Truth
from ringwatch.scoring import parse_strategy
from ringwatch.scoring import replay_detection as rd
from ringwatch.scoring.backtest import backtest, records_from_file
from ringwatch.scoring.replay_detection import DetectionReplay, parse_duration

STRATEGY = """\
id: rings
version: 1
thresholds:
  - {min: 0, action: allow}
  - {min: 50, action: review}
  - {min: 100, action: block}
checkpoints:
  signup:
    rules:
      - &ring {id: ring_fraud, when: "ring_verdict == 'fraud'", points: 100, reason: RING}
      - &evader {id: evader, when: "evader_score >= 0.5", points: 100, reason: EVADER}
  login:
    rules: [*ring, *evader]
"""
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def signup(n: int, account: str, hours: float, **ids: str) -> dict[str, Any]:
    return {"event_id": f"s{n}", "ts": at(hours), "account_id": account, "type": "signup",
            "email": f"{account}@example.org", **ids}


def login(n: int, account: str, hours: float, **ids: str) -> dict[str, Any]:
    return {"event_id": f"l{n}", "ts": at(hours), "account_id": account, "type": "login", **ids}


# A farm of 8 on one device and card: r0 and r1 join on day 0, the other six on day 3 (72h),
# so before day 3 the graph holds two accounts on the device, too few for a ring.
RING = [f"r{i}" for i in range(8)]
EVENTS = [
    signup(0, "r0", 1, device_id="FARM", card="STOLEN-1"),
    signup(1, "r1", 2, device_id="FARM", card="STOLEN-1"),
    *(signup(10 + i, f"b{i}", 3 + i, device_id=f"home{i}") for i in range(6)),
    login(0, "r0", 30, device_id="FARM"),  # day 1: the run at 25h saw two farm accounts
    *(signup(2 + i, f"r{i + 2}", 72 + 0.1 * i, device_id="FARM", card="STOLEN-1")
      for i in range(6)),
    login(1, "r0", 100, device_id="FARM"),  # after the run at 73h, which saw all eight
    login(2, "b0", 101, device_id="home0"),
]


@pytest.fixture
def events(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in EVENTS))
    return path


def test_parse_duration() -> None:
    assert (parse_duration("1d"), parse_duration("6h"), parse_duration("30m")) == (
        86_400, 21_600, 1_800)
    for bad in ("", "1y", "0h", "d"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_runs_see_only_the_past(events: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Snapshot] = []
    real = rd.detect

    def spy(snapshot: Snapshot, *args: Any, **kwargs: Any) -> DetectionResult:
        seen.append(snapshot)
        return real(snapshot, *args, **kwargs)

    monkeypatch.setattr(rd, "detect", spy)
    replay = DetectionReplay(every=86_400)
    rejected: Counter[str] = Counter()
    report = backtest(parse_strategy(STRATEGY), records_from_file(events, rejected=rejected),
                      detection_replay=replay)
    assert not rejected and report["events"] == len(EVENTS)
    assert [r.at for r in replay.runs] == [
        int((T0 + timedelta(hours=h)).timestamp()) for h in (25, 49, 73)]
    for run, snap in zip(replay.runs, seen, strict=True):
        assert snap.created_at.max() <= run.at
        assert snap.link_first_seen.data.max() <= run.at
        assert run.accounts == snap.n_accounts
    # Runs at 25h and 49h saw two farm accounts; the one at 73h the six day-3 signups too
    # (72h-72.5h). No run at 97h: nothing happened between 73h and 97h.
    assert set(RING) - set(seen[0].accounts) == set(RING[2:])
    assert set(RING) - set(seen[1].accounts) == set(RING[2:])
    assert set(RING) <= set(seen[2].accounts)
    assert not report["detections_leak_future"]


def test_ring_flagged_only_once_its_members_have_joined(events: Path) -> None:
    replay = DetectionReplay(every=86_400)
    report = backtest(parse_strategy(STRATEGY), records_from_file(events),
                      detection_replay=replay)
    day3 = int((T0 + timedelta(hours=73)).timestamp())
    # Detection flags the farm only in a run after its members joined ...
    assert [r.rings_flagged for r in replay.runs] == [0, 0, 1]
    assert {replay.first_flagged_ring[m] for m in RING} == {day3}
    # ... so the day-1 login of r0 did not fire the ring rule and the day-4 one did.
    ring_decisions = report["by_rule"]["ring_fraud"]["decisions"]
    assert ring_decisions == 1
    assert replay.first_flagged_ring.keys() & {f"b{i}" for i in range(6)} == set()

    truth = Truth(accounts=14, labels=dict.fromkeys(RING, "fraud"),
                  rings=[{"ring_id": "farm", "members": RING}], repeat_offenders={})
    report = backtest(parse_strategy(STRATEGY), records_from_file(events), truth,
                      detection_replay=DetectionReplay(every=86_400))
    row = report["detection_rules"]["ring_fraud"]
    assert (row["kind"], row["accounts"], row["precision"]) == ("ring", 1, 1.0)
    assert row["recall_of_ring_accounts"] == pytest.approx(1 / 8, abs=1e-6)
    delay = report["ring_delay"]
    assert delay["rings_with_flagged_decision"] == 1
    assert delay["delay_hours_p50"] == pytest.approx(100 - 1)


def test_bans_after_a_run_are_not_in_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ban = {"event_id": "ban", "ts": at(60), "account_id": "b1", "type": "enforcement",
           "action": "ban"}
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in [*EVENTS[:9], ban, *EVENTS[9:]]))
    banned_by_run: list[bool] = []
    real = rd.detect

    def spy(snapshot: Snapshot, *args: Any, **kwargs: Any) -> DetectionResult:
        row = snapshot.account_index()["b1"]
        banned_by_run.append(bool(snapshot.banned_at[row] >= 0))
        return real(snapshot, *args, **kwargs)

    monkeypatch.setattr(rd, "detect", spy)
    backtest(parse_strategy(STRATEGY), records_from_file(path),
             detection_replay=DetectionReplay(every=86_400))
    assert banned_by_run == [False, False, True]  # runs at 25h, 49h, 73h; the ban is at 60h


def test_cli_detect_every(events: Path, tmp_path: Path) -> None:
    strategy = tmp_path / "rings.yaml"
    strategy.write_text(STRATEGY)
    app = typer.Typer()
    backtest_cli.register(app)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["backtest", "--strategy", str(strategy), "--events",
                                      str(events), "--detect-every", "1d", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = orjson.loads(out.read_bytes())
    assert report["detection_replay"]["runs"] == 3
    assert report["detection_rules"]["ring_fraud"]["decisions"] == 1
    assert "ring and evader rules" in result.output
    result = CliRunner().invoke(app, ["backtest", "--strategy", str(strategy), "--events",
                                      str(events), "--detect-every", "soon"])
    assert result.exit_code != 0
