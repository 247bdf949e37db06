"""Strategy.decide: CEL conditions, null semantics, thresholds, min_action and what rules saw."""

from __future__ import annotations

import pytest

from ringwatch.errors import Invalid
from ringwatch.features import feature_set
from ringwatch.scoring import Strategy, parse_strategy

STRATEGY = """\
id: unit
version: 7
min_age: 16
thresholds:
  - {min: 0, action: allow}
  - {min: 30, action: challenge}
  - {min: 60, action: review}
  - {min: 100, action: block}
checkpoints:
  signup:
    rules:
      - {id: farm, when: "device_accounts >= 5", points: 60, reason: FARM}
      - {id: fraud_ring, when: "ring_verdict == 'fraud' && ring_size >= 8", points: 50,
         reason: RING}
      - {id: disposable, when: email_domain_disposable, points: 15, reason: DISPOSABLE}
      - {id: young_or_fast, when: "account_age_days < 1.0 || subnet_signups_1h > 3",
         points: 20, reason: FAST}
      - {id: trusted_domain, when: "email_domain in ['corp.example', 'uni.example']",
         points: -40, reason: TRUSTED}
      - {id: unknown_verdict, when: "ring_verdict != 'fraud'", points: 1, reason: NOT_FRAUD}
      - {id: kid, when: under_min_age, points: 0, reason: UNDER_AGE, min_action: age_gate}
  login:
    thresholds:
      - {min: -100, action: allow}
      - {min: 10, action: block}
    rules:
      - {id: banned, when: account_banned, points: 10, reason: BANNED}
"""


@pytest.fixture(scope="module")
def strategy() -> Strategy:
    return parse_strategy(STRATEGY, "unit.yaml")


def base(**values: object) -> dict[str, object]:
    out: dict[str, object] = {
        "device_accounts": 0, "ring_verdict": "none", "ring_size": 0,
        "email_domain_disposable": False, "account_age_days": 30.0, "subnet_signups_1h": 0,
        "email_domain": "mail.example", "declared_age_years": 30,
    }
    out.update(values)
    return out


def test_points_add_up_and_map_to_the_threshold_band(strategy: Strategy) -> None:
    d = strategy.decide("signup", base(device_accounts=6, email_domain_disposable=True))
    assert d.fired == ("farm", "disposable", "unknown_verdict")
    assert (d.score, d.action) == (76, "review")
    d = strategy.decide("signup", base(device_accounts=6, ring_verdict="fraud", ring_size=9))
    assert (d.score, d.action) == (110, "block")
    assert strategy.decide("signup", base()).action == "allow"


@pytest.mark.parametrize(
    ("score", "action"),
    [(-50, "allow"), (0, "allow"), (29, "allow"), (30, "challenge"), (59, "challenge"),
     (60, "review"), (99, "review"), (100, "block"), (10_000, "block")],
)
def test_threshold_band_edges(strategy: Strategy, score: int, action: str) -> None:
    assert strategy.default_thresholds.action_for(score) == action


def test_negative_points_and_checkpoint_thresholds(strategy: Strategy) -> None:
    d = strategy.decide("signup", base(device_accounts=6, email_domain="corp.example"))
    assert (d.score, d.action) == (21, "allow")
    assert strategy.decide("login", {"account_banned": True}).action == "block"
    assert strategy.decide("login", {"account_banned": False}).action == "allow"


def test_reasons_say_what_each_rule_saw(strategy: Strategy) -> None:
    d = strategy.decide("signup", base(ring_verdict="fraud", ring_size=12, account_age_days=0.5))
    assert [(r.rule, r.points, r.reason) for r in d.reasons] == [
        ("fraud_ring", 50, "RING"), ("young_or_fast", 20, "FAST")]
    assert d.seen == {
        "fraud_ring": {"ring_size": 12, "ring_verdict": "fraud"},
        "young_or_fast": {"account_age_days": 0.5, "subnet_signups_1h": 0},
    }
    as_json = d.to_dict()
    assert as_json["strategy_version"] == "7" and as_json["strategy_id"] == "unit"
    assert as_json["reasons"][0] == {"rule": "fraud_ring", "points": 50, "reason": "RING",
                                     "seen": {"ring_size": 12, "ring_verdict": "fraud"}}


def test_null_feature_means_the_rule_does_not_fire(strategy: Strategy) -> None:
    # ring_verdict unknown: neither `== 'fraud'` nor `!= 'fraud'` fires.
    d = strategy.decide("signup", base(ring_verdict=None, ring_size=None))
    assert "unknown_verdict" not in d.fired and "fraud_ring" not in d.fired
    assert {"fraud_ring", "unknown_verdict"} <= set(d.skipped)
    # One null operand of || is enough to skip, even if the other side is true.
    d = strategy.decide("signup", base(account_age_days=0.1, subnet_signups_1h=None))
    assert "young_or_fast" not in d.fired and "young_or_fast" in d.skipped
    # Absent names are null too; an empty feature set decides without error.
    d = strategy.decide("signup", {})
    assert (d.action, d.score, d.fired, d.errors) == ("allow", 0, (), ())
    assert len(d.skipped) == 7


def test_min_action_age_gate_raises_but_never_lowers(strategy: Strategy) -> None:
    d = strategy.decide("signup", base(declared_age_years=14))  # below this strategy's 16
    assert (d.action, d.score) == ("age_gate", 1)
    assert d.reasons[-1].min_action == "age_gate"
    d = strategy.decide("signup", base(declared_age_years=14, device_accounts=9,
                                       ring_verdict="fraud", ring_size=9))
    assert d.action == "block"
    assert strategy.decide("signup", base(declared_age_years=16)).action == "allow"
    # The caller's own under_min_age wins over the strategy's derivation.
    assert strategy.decide("signup", base(declared_age_years=14, under_min_age=False)
                           ).action == "allow"


def test_runtime_error_in_a_rule_is_recorded_not_raised(strategy: Strategy) -> None:
    d = strategy.decide("signup", base(device_accounts="many"))  # a caller bug: str for int
    assert "farm" not in d.fired
    assert d.errors and d.errors[0][0] == "farm"


def test_unconfigured_and_unknown_checkpoints(strategy: Strategy) -> None:
    d = strategy.decide("payment", base(device_accounts=50))
    assert (d.action, d.score, d.reasons) == ("allow", 0, ())
    with pytest.raises(Invalid):
        strategy.decide("checkout", {})


def test_feature_set_validates_and_completes() -> None:
    values = feature_set({"ring_size": 3, "ring_score": 1, "ring_verdict": "fraud"})
    assert values["ring_score"] == 1.0 and isinstance(values["ring_score"], float)
    assert values["evader_score"] is None
    with pytest.raises(Invalid) as info:
        feature_set({"ring_size": "3", "ring_verdict": "evil", "nope": 1})
    assert sorted(p.field for p in info.value.problems) == ["nope", "ring_size", "ring_verdict"]
