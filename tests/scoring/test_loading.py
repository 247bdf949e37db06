"""Strategy loading: every kind of problem is rejected with file, line and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from ringwatch.errors import Invalid, Problem
from ringwatch.scoring import check_files, load_strategies, load_strategy, parse_strategy

HEAD = """\
id: t
version: 1
thresholds:
  - {min: 0, action: allow}
  - {min: 30, action: challenge}
  - {min: 60, action: review}
checkpoints:
  signup:
    rules:
"""  # rules start on line 10


def rule(rid: str = "r1", when: str = "device_accounts >= 3", points: str = "10",
         reason: str = "R") -> str:
    return f"      - id: {rid}\n        when: {when}\n        points: {points}\n" \
           f"        reason: {reason}\n"


def problems(text: str, source: str = "s.yaml") -> list[Problem]:
    with pytest.raises(Invalid) as info:
        parse_strategy(text, source)
    return info.value.problems


def only(text: str) -> tuple[int, str]:
    found = problems(text)
    assert len(found) == 1, found
    path, line = found[0].field.rsplit(":", 1)
    assert path == "s.yaml"
    return int(line), found[0].reason


def test_valid_strategy_loads_with_compiled_rules() -> None:
    strategy = parse_strategy(HEAD + rule() + rule("r2", "email_domain_disposable", "5"))
    assert strategy.key == "t@1"
    assert [r.id for r in strategy.rules("signup")] == ["r1", "r2"]
    assert strategy.rules("signup")[0].condition.features == ("device_accounts",)
    assert strategy.rules("signup")[0].line == 10
    assert strategy.min_age == 13


def test_unknown_feature_is_rejected_with_its_line_and_a_suggestion() -> None:
    line, reason = only(HEAD + rule() + rule("r2", "device_acounts >= 3"))
    assert line == 15  # the second rule's `when`
    assert "unknown feature 'device_acounts'" in reason
    assert "did you mean 'device_accounts'" in reason


def test_unknown_feature_in_a_block_condition_points_at_its_line() -> None:
    text = HEAD + "      - id: r1\n        when: |\n          ring_size > 3 &&\n" \
        "          ring_verdikt == 'fraud'\n        points: 5\n        reason: R\n"
    line, reason = only(text)
    assert line == 13
    assert "ring_verdikt" in reason


def test_names_bound_by_macros_are_not_features() -> None:
    text = HEAD + rule(when="\"['a.com', 'b.com'].exists(d, d == email_domain)\"")
    assert parse_strategy(text).rules("signup")[0].condition.features == ("email_domain",)


def test_cel_syntax_error() -> None:
    line, reason = only(HEAD + rule() + rule("r2", "device_accounts >= && true"))
    assert line == 15
    assert reason.startswith("rule r2: CEL syntax error at column")


def test_type_error_found_at_load() -> None:
    line, reason = only(HEAD + rule(when="ring_verdict > 3"))
    assert line == 11
    assert "type error" in reason


def test_non_boolean_condition() -> None:
    line, reason = only(HEAD + rule(when="ring_size + 1"))
    assert line == 11
    assert "true or false" in reason


@pytest.mark.parametrize(
    ("points", "expected"),
    [("ten", "points must be an integer"), ("1.5", "points must be an integer"),
     ("true", "points must be an integer")],
)
def test_bad_points(points: str, expected: str) -> None:
    line, reason = only(HEAD + rule(points=points))
    assert line == 12
    assert expected in reason


def test_duplicate_rule_id() -> None:
    line, reason = only(HEAD + rule("same") + rule("same", "ring_size > 3"))
    assert line == 14
    assert "duplicate rule id 'same'" in reason and "line 10" in reason


def test_one_id_for_two_different_rules_across_checkpoints() -> None:
    text = HEAD + rule("x") + "  login:\n    rules:\n" + rule("x", "ring_size > 3")
    line, reason = only(text)
    assert line == 16
    assert "already used for a different rule at line 10" in reason


def test_alias_reuses_a_rule_across_checkpoints() -> None:
    text = HEAD + "      - &r\n" + rule()[8:].replace("id: r1", "        id: r1", 1) \
        + "  login:\n    rules:\n      - *r\n"
    strategy = parse_strategy(text)
    assert strategy.rules("login") == strategy.rules("signup")


def test_unknown_checkpoint_and_action_and_key() -> None:
    text = HEAD + rule() + "        min_action: jail\n  signin:\n    rules: []\n"
    found = sorted((int(p.field.rsplit(":", 1)[1]), p.reason) for p in problems(text))
    assert found[0][0] == 14 and "unknown action 'jail'" in found[0][1]
    assert found[1][0] == 15 and "unknown checkpoint 'signin'" in found[1][1]
    line, reason = only(HEAD + rule() + "        pionts: 3\n")
    assert line == 14 and "unknown key 'pionts'" in reason


def thresholds(*rows: str) -> str:
    body = "".join(f"  - {r}\n" for r in rows)
    return f"id: t\nversion: 1\nthresholds:\n{body}checkpoints:\n  signup:\n    rules: []\n"


@pytest.mark.parametrize(
    ("rows", "line", "expected"),
    [
        (("{min: 0, action: allow}", "{min: 30, action: review}", "{min: 30, action: block}"),
         6, "duplicate threshold min 30"),
        (("{min: 0, action: allow}", "{min: 60, action: review}", "{min: 30, action: block}"),
         6, "must be sorted by min"),
        (("{min: 0, max: 40, action: allow}", "{min: 30, action: review}"),
         4, "overlaps the next one"),
        (("{min: 0, max: 20, action: allow}", "{min: 30, action: review}"),
         4, "gap between thresholds"),
        (("{min: 10, action: allow}", "{min: 30, action: review}"),
         4, "lowest threshold must start at 0 or below"),
        (("{min: 0, action: allow}", "{min: 30, action: ban}"), 5, "unknown action 'ban'"),
        (("{min: 0, action: allow}", "{min: '30', action: review}"), 5, "min must be an integer"),
        (("{min: 0, action: allow}", "{min: 30, max: 90, action: review}"),
         5, "last threshold cannot have a max"),
    ],
)
def test_bad_thresholds(rows: tuple[str, ...], line: int, expected: str) -> None:
    got_line, reason = only(thresholds(*rows))
    assert (got_line, expected in reason) == (line, True), reason


def test_thresholds_with_max_that_meet_are_fine() -> None:
    s = parse_strategy(thresholds("{min: 0, max: 30, action: allow}", "{min: 30, action: block}"))
    assert s.default_thresholds.action_for(29) == "allow"


def test_yaml_syntax_error_and_duplicate_keys() -> None:
    line, reason = only("id: t\nversion: 1\nthresholds: [\n  {min: 0, action: allow}\n"
                        "checkpoints: {}\n")
    assert reason.startswith("YAML syntax")
    assert line >= 5
    line, reason = only("id: t\nversion: 1\nid: u\n")
    assert line == 3 and "YAML syntax" in reason


def test_missing_top_level_fields_are_all_reported() -> None:
    found = problems("description: nothing else\n")
    reasons = " / ".join(p.reason for p in found)
    assert "id is required" in reasons and "version is required" in reasons
    assert "checkpoints is required" in reasons


def test_checkpoint_without_thresholds() -> None:
    line, reason = only("id: t\nversion: 1\ncheckpoints:\n  login:\n    rules: []\n")
    assert line == 4 and "no thresholds" in reason


def test_files_and_directories(tmp_path: Path) -> None:
    good = tmp_path / "a.yaml"
    good.write_text(HEAD + rule())
    bad = tmp_path / "b.yaml"
    bad.write_text(HEAD + rule(when="nope > 1"))
    assert check_files([good]) == []
    found = check_files([good, bad])
    assert [p.field for p in found] == [f"{bad}:11"]
    with pytest.raises(Invalid):
        load_strategies(tmp_path)
    bad.write_text(HEAD.replace("version: 1", "version: 2") + rule())
    assert sorted(load_strategies(tmp_path)) == ["t@1", "t@2"]
    twin = tmp_path / "c.yaml"
    twin.write_text(HEAD + rule())
    assert [p.reason for p in check_files([good, twin])] == [f"t@1 is also defined in {good}"]
    assert load_strategy(good).source == str(good)


def test_shipped_default_strategy_loads() -> None:
    strategy = load_strategy(Path(__file__).parents[2] / "strategies" / "default.yaml")
    assert set(strategy.checkpoints) == {"signup", "login", "payment", "content", "periodic"}
    assert strategy.rules("login")[0].id == "banned_account"
