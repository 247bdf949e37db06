"""The feature registry, the signals and the replay state that computes features over time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson
import pytest

from ringwatch.detectors.pipeline import detect
from ringwatch.detectors.snapshot import SnapshotBuilder
from ringwatch.events import parse_event
from ringwatch.features import (
    FEATURES,
    AccountFacts,
    DatacenterRanges,
    DetectionFacts,
    Detections,
    GraphFacts,
    assemble,
    declared_age_years,
    disposable_domains,
    is_disposable,
)
from ringwatch.features.replay import ReplayState
from ringwatch.identity import Pseudonymiser
from ringwatch.records import Record, normalise, on_emulator

DOCS = Path(__file__).parents[2] / "docs" / "features.md"
REQUIRED = {
    "account_age_days", "email_domain_disposable", "email_domain", "subnet_signups_1h",
    "subnet_accounts", "device_accounts", "shared_with_banned", "banned_neighbours",
    "ring_verdict", "ring_size", "ring_score", "evader_score", "evader_match",
    "declared_age_years", "under_min_age", "account_risk", "checkpoint", "datacenter_ip",
}


def test_every_feature_is_declared_and_documented() -> None:
    assert set(FEATURES) >= REQUIRED
    docs = DOCS.read_text()
    for name, feature in FEATURES.items():
        assert feature.type in (bool, int, float, str)
        assert feature.description and feature.computation and feature.freshness
        assert f"`{name}`" in docs, f"{name} missing from docs/features.md"


def test_disposable_domains() -> None:
    assert len(disposable_domains()) >= 300
    assert is_disposable("mailinator.com") is True
    assert is_disposable("inbox.mailinator.com") is True  # subdomains of a listed domain
    assert is_disposable("gmail.com") is False
    assert is_disposable("com") is False
    assert is_disposable(None) is None


def test_datacenter_ranges(tmp_path: Path) -> None:
    path = tmp_path / "dc.txt"
    path.write_text("# hosting\n203.0.113.0/24\n198.51.100.16/28  # a narrow range\n\n"
                    "2001:db8::/32\n")
    ranges = DatacenterRanges.from_file(path)
    assert len(ranges) == 3
    assert ranges.contains("203.0.113.9") is True
    assert ranges.contains("203.0.114.9") is False
    assert ranges.contains("198.51.100.0/24") is True  # a subnet overlapping a narrow range
    assert ranges.contains("2001:db8:5::/48") is True
    assert ranges.contains("not an ip") is False
    assert ranges.contains(None) is None
    with pytest.raises(ValueError, match="not a CIDR"):
        DatacenterRanges(["10.0.0.0/33"])


@pytest.mark.parametrize(
    ("birthdate", "on", "age"),
    [("2010-06-15", "2023-06-14", 12), ("2010-06-15", "2023-06-15", 13),
     ("2008-02-29", "2021-02-28", 12), (None, "2023-01-01", None), ("garbage", "2023-01-01", None)],
)
def test_declared_age(birthdate: str | None, on: str, age: int | None) -> None:
    assert declared_age_years(birthdate, dt.date.fromisoformat(on)) == age


def test_assemble_leaves_missing_sources_null() -> None:
    now = 1_700_000_000
    values = assemble("login", now, AccountFacts(created_at=now - 2 * 86400,
                                                 email_domain="yopmail.com"), None, None)
    assert set(values) == set(FEATURES)
    assert values["account_age_days"] == 2.0
    assert values["email_domain_disposable"] is True
    assert values["device_accounts"] is None and values["ring_verdict"] is None
    assert values["datacenter_ip"] is None  # no list configured: unknown, not "no"
    assert values["declared_age_years"] is None and values["under_min_age"] is None
    values = assemble("signup", now, AccountFacts(birthdate="2015-01-01"), GraphFacts(),
                      DetectionFacts(ring_score=0.5, evader_score=0.5), min_age=13)
    assert values["account_risk"] == 0.75 and values["evader_match"] is True
    assert values["under_min_age"] is True and values["account_age_days"] is None


def rec(ts: int, account: str, kind: str, ids: list[list[str]], **extra: Any) -> dict[str, Any]:
    return {"id": f"{account}-{ts}", "t": kind, "ts": ts * 1000, "a": account, "ids": ids,
            **extra}


def signup(ts: int, account: str, device: str, subnet: str = "10.0.0.0/24") -> dict[str, Any]:
    return rec(ts, account, "signup", [["device", device], ["ip", f"ip-{account}"],
                                       ["subnet", subnet]], ip_subnet=[f"ip-{account}", subnet])


def test_replay_counts_as_of_each_event() -> None:
    state = ReplayState()
    f = state.observe(signup(0, "a", "D1"))
    assert f is not None
    assert (f["device_accounts"], f["subnet_accounts"], f["subnet_signups_1h"]) == (0, 0, 0)
    state.observe(signup(600, "b", "D1"))
    f = state.observe(signup(1200, "c", "D1"))
    assert f is not None
    assert (f["device_accounts"], f["subnet_accounts"], f["subnet_signups_1h"]) == (2, 2, 2)
    # 3600 s after a's signup it leaves the window; b's is still in it.
    f = state.observe(signup(3600, "d", "D2"))
    assert f is not None and f["subnet_signups_1h"] == 2 and f["device_accounts"] == 0
    assert state.observe(rec(3700, "d", "enforcement", [], action="ban")) is None
    f = state.observe(rec(3800, "a", "login", [["device", "D2"]]))
    assert f is not None
    assert (f["shared_with_banned"], f["banned_neighbours"], f["account_banned"]) == (1, 1, False)
    assert f["account_age_days"] == round(3800 / 86400, 4)
    # A second identifier shared with the banned account, then the ban is cleared.
    state.observe(rec(3900, "d", "profile_update", [["phone", "P"]]))
    f = state.observe(rec(4000, "a", "payment", [["phone", "P"], ["card", "C"]]))
    assert f is not None and f["checkpoint"] == "payment"
    assert (f["shared_with_banned"], f["banned_neighbours"]) == (2, 1)
    state.observe(rec(4100, "d", "enforcement", [], action="clear"))
    f = state.observe(rec(4200, "a", "engage", []))
    assert f is not None and f["checkpoint"] == "content"
    assert (f["shared_with_banned"], f["banned_neighbours"]) == (0, 0)
    f = state.observe(rec(4300, "d", "login", []))
    assert f is not None and f["account_banned"] is False
    assert f["device_accounts"] == 1  # D2 is shared with a now


def test_replay_reads_profile_email_and_detections() -> None:
    detections = Detections({"a": DetectionFacts("fraud", 5, 0.9, 0.0)})
    state = ReplayState(detections=detections, min_age=13)
    f = state.observe(rec(86400 * 365 * 40, "a", "signup", [], email_domain=["k", "yopmail.com"],
                          profile={"birthdate": "2000-01-01"}))
    assert f is not None
    assert (f["ring_verdict"], f["ring_size"], f["evader_match"]) == ("fraud", 5, False)
    assert f["email_domain"] == "yopmail.com" and f["email_domain_disposable"] is True
    assert f["declared_age_years"] == 9 and f["under_min_age"] is True
    f = state.observe(rec(86400 * 365 * 40, "z", "signup", []))
    assert f is not None and f["ring_verdict"] == "none" and f["ring_score"] == 0.0


def test_event_emulator_reads_the_events_agent_in_replay_and_live() -> None:
    hasher = Pseudonymiser(b"k")

    def record(event_id: str, **fields: str) -> Record:
        raw = {"event_id": event_id, "type": "login", "account_id": "a",
               "ts": "2025-01-01T00:00:00Z", **fields}
        return normalise(parse_event(raw), hasher)

    emulator = record("e1", device_id="d", user_agent="App/2 (Android 13; sdk_gphone64_x86_64)")
    phone = record("e2", device_id="d", user_agent="App/2 (Android 14; Pixel 8)")
    no_agent = record("e3", device_id="d")
    assert [on_emulator(r) for r in (emulator, phone, no_agent)] == [True, False, None]
    state = ReplayState()
    seen = [state.observe(r) for r in (emulator, phone, no_agent)]
    assert [f["event_emulator"] if f else "no decision" for f in seen] == [True, False, None]
    live = assemble("login", 0, AccountFacts(emulator=True), None, None)
    assert live["event_emulator"] is True


def test_detections_from_files_and_result(tmp_path: Path) -> None:
    rings = tmp_path / "rings.jsonl"
    rings.write_bytes(
        orjson.dumps({"ring_id": "r1", "members": ["a", "b"], "verdict": "benign", "score": 0.1})
        + b"\n" + orjson.dumps({"ring_id": "r2", "members": ["b", "c", "d"],
                                "verdict": "fraud", "score": 0.9}) + b"\n")
    evaders = tmp_path / "evaders.jsonl"
    evaders.write_bytes(orjson.dumps({"account_id": "e", "matched": ["a"], "score": 0.7}) + b"\n"
                        + orjson.dumps({"account_id": "e", "matched": ["b"], "score": 0.2}))
    d = Detections.from_files(rings, evaders)
    assert d.get("a") == DetectionFacts("benign", 2, 0.1, 0.0)
    assert d.get("b") == DetectionFacts("fraud", 3, 0.9, 0.0)  # the worse of its two rings
    assert d.get("e").evader_score == 0.7  # the first line counts
    assert d.get("nobody") == DetectionFacts()

    b = SnapshotBuilder()
    for i in range(8):
        b.add_account(f"a{i}", {"created_at": 1_000_000 + 600 * i})
        b.add_link(f"a{i}", "device", "farm", 1, 1_000_000)
        b.add_link(f"a{i}", "card", "stolen", 1, 1_000_000)
    facts = Detections.from_result(detect(b.build(), seed=1)).get("a3")
    assert facts.ring_verdict == "fraud" and facts.ring_size == 8
