"""Load strategy files (YAML), rejecting every problem at once with `file:line` and a reason.

ruamel.yaml keeps line numbers on every mapping and sequence it builds, so a problem found while
checking the structure points at the line a person has to edit. Duplicate YAML keys are already
rejected by the parser.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarstring import LiteralScalarString

from ringwatch.errors import Invalid, Problem
from ringwatch.features.registry import FEATURES, Feature
from ringwatch.scoring.actions import ACTIONS, CHECKPOINTS
from ringwatch.scoring.conditions import ConditionError, compile_condition
from ringwatch.scoring.strategy import Band, CheckpointPlan, Rule, Strategy, Thresholds

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_REASON = re.compile(r"^[A-Za-z0-9_.:-]+$")
TOP_KEYS = ("id", "version", "description", "min_age", "thresholds", "checkpoints")
CHECKPOINT_KEYS = ("rules", "thresholds")
RULE_KEYS = ("id", "when", "points", "reason", "min_action")
BAND_KEYS = ("min", "max", "action")


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[Problem] = []

    def add(self, line: int, reason: str) -> None:
        self.items.append(Problem(field=f"{self.source}:{line}", reason=reason))


def _key_line(m: CommentedMap, key: str) -> int:
    return int(m.lc.key(key)[0]) + 1


def _value_line(m: CommentedMap, key: str) -> int:
    return int(m.lc.value(key)[0]) + 1


def _item_line(seq: CommentedSeq, i: int) -> int:
    return int(seq.lc.item(i)[0]) + 1


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _unknown_keys(m: CommentedMap, allowed: tuple[str, ...], where: str, out: _Problems) -> None:
    for key in m:
        if key not in allowed:
            out.add(
                _key_line(m, key),
                f"unknown key {key!r} in {where}; expected one of: {', '.join(allowed)}",
            )


def parse_strategy(
    text: str, source: str = "<string>", *, registry: Mapping[str, Feature] = FEATURES
) -> Strategy:
    """Parse and check one strategy; raises `Invalid` with every problem found."""
    out = _Problems(source)
    try:
        doc = YAML(typ="rt").load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 1
        out.add(line, f"YAML syntax: {e.problem or e.context}")
        raise Invalid(f"{source}: strategy rejected", out.items) from e
    except YAMLError as e:
        out.add(1, f"YAML: {e}")
        raise Invalid(f"{source}: strategy rejected", out.items) from e
    if not isinstance(doc, CommentedMap):
        out.add(1, "a strategy is a mapping with id, version, thresholds and checkpoints")
        raise Invalid(f"{source}: strategy rejected", out.items)
    strategy = _strategy(doc, out, registry, source, hashlib.sha256(text.encode()).hexdigest())
    if out.items or strategy is None:
        raise Invalid(f"{source}: strategy rejected", out.items)
    return strategy


def _strategy(
    doc: CommentedMap, out: _Problems, registry: Mapping[str, Feature], source: str, digest: str
) -> Strategy | None:
    _unknown_keys(doc, TOP_KEYS, "the strategy", out)
    sid = doc.get("id")
    if not isinstance(sid, str) or not _NAME.match(sid):
        out.add(
            _value_line(doc, "id") if "id" in doc else 1,
            "id is required: letters, digits, '_', '.', '-'",
        )
    version = doc.get("version")
    if not ((_is_int(version) and version >= 1) or (isinstance(version, str) and version)):
        out.add(
            _value_line(doc, "version") if "version" in doc else 1,
            "version is required: a positive integer or a non-empty string",
        )
    description = doc.get("description", "")
    if not isinstance(description, str):
        out.add(_value_line(doc, "description"), "description must be text")
    min_age = doc.get("min_age", 13)
    if not _is_int(min_age) or not 0 <= min_age <= 120:
        out.add(_value_line(doc, "min_age"), "min_age must be an integer from 0 to 120")
    default = None
    if "thresholds" in doc:
        default = _thresholds(doc["thresholds"], _value_line(doc, "thresholds"), out)
    checkpoints = doc.get("checkpoints")
    plans: dict[str, CheckpointPlan] = {}
    if not isinstance(checkpoints, CommentedMap) or not checkpoints:
        out.add(
            _value_line(doc, "checkpoints") if "checkpoints" in doc else 1,
            f"checkpoints is required: a mapping with any of {', '.join(CHECKPOINTS)}",
        )
    else:
        plans = _checkpoints(checkpoints, default, "thresholds" in doc, out, registry)
    if out.items:
        return None
    assert isinstance(sid, str) and plans  # guaranteed once no problem was found
    fallback = default if default is not None else next(iter(plans.values())).thresholds
    index = {r.id: r for plan in plans.values() for r in plan.rules}
    return Strategy(
        id=str(sid),
        version=str(version),
        checkpoints=plans,
        default_thresholds=fallback,
        min_age=int(min_age),
        description=str(description),
        source=source,
        digest=digest,
        rule_index=index,
    )


def _checkpoints(
    checkpoints: CommentedMap,
    default: Thresholds | None,
    default_given: bool,  # even if invalid: then its problems are reported already
    out: _Problems,
    registry: Mapping[str, Feature],
) -> dict[str, CheckpointPlan]:
    plans: dict[str, CheckpointPlan] = {}
    first_seen: dict[str, Rule] = {}
    for name, body in checkpoints.items():
        line = _key_line(checkpoints, name)
        if name not in CHECKPOINTS:
            out.add(line, f"unknown checkpoint {name!r}; expected one of {', '.join(CHECKPOINTS)}")
            continue
        if not isinstance(body, CommentedMap):
            out.add(line, f"checkpoint {name}: expected a mapping with rules and thresholds")
            continue
        _unknown_keys(body, CHECKPOINT_KEYS, f"checkpoint {name}", out)
        thresholds = default
        if "thresholds" in body:
            thresholds = _thresholds(body["thresholds"], _value_line(body, "thresholds"), out)
        elif not default_given:
            out.add(line, f"checkpoint {name} has no thresholds and there are no top-level ones")
        rules = _rules(
            body.get("rules"),
            _value_line(body, "rules") if "rules" in body else line,
            name,
            out,
            registry,
        )
        for rule in rules:
            earlier = first_seen.setdefault(rule.id, rule)
            # The same id in two checkpoints must be the same rule (a YAML alias, typically):
            # reports count rules by id, and one id meaning two things would corrupt them.
            if earlier is not rule and (
                earlier.when,
                earlier.points,
                earlier.reason,
                earlier.min_action,
            ) != (rule.when, rule.points, rule.reason, rule.min_action):
                out.add(
                    rule.line,
                    f"rule id {rule.id!r} is already used for a different rule "
                    f"at line {earlier.line}",
                )
        if thresholds is not None:
            plans[name] = CheckpointPlan(tuple(rules), thresholds)
    return plans


def _rules(
    raw: Any, line: int, checkpoint: str, out: _Problems, registry: Mapping[str, Feature]
) -> list[Rule]:
    if raw is None:
        return []
    if not isinstance(raw, CommentedSeq):
        out.add(line, f"checkpoint {checkpoint}: rules must be a list")
        return []
    rules: list[Rule] = []
    ids: dict[str, int] = {}
    for i, item in enumerate(raw):
        at = _item_line(raw, i)
        if not isinstance(item, CommentedMap):
            out.add(at, "a rule is a mapping with id, when, points and reason")
            continue
        rule = _rule(item, at, out, registry)
        if rule is None:
            continue
        if rule.id in ids:
            out.add(
                at,
                f"duplicate rule id {rule.id!r} in checkpoint {checkpoint} "
                f"(first at line {ids[rule.id]})",
            )
            continue
        ids[rule.id] = at
        rules.append(rule)
    return rules


def _rule(
    item: CommentedMap, at: int, out: _Problems, registry: Mapping[str, Feature]
) -> Rule | None:
    before = len(out.items)
    _unknown_keys(item, RULE_KEYS, "a rule", out)
    for key in ("id", "when", "points", "reason"):
        if key not in item:
            out.add(at, f"rule is missing {key!r}")
    if len(out.items) > before:
        return None
    rid, when, points, reason = item["id"], item["when"], item["points"], item["reason"]
    if not isinstance(rid, str) or not _NAME.match(rid):
        out.add(_value_line(item, "id"), "rule id must be letters, digits, '_', '.', '-'")
    if not _is_int(points):
        out.add(_value_line(item, "points"), f"points must be an integer, got {points!r}")
    if not isinstance(reason, str) or not _REASON.match(reason):
        out.add(
            _value_line(item, "reason"),
            "reason must be a code of letters, digits, '_', '.', ':', '-'",
        )
    min_action = item.get("min_action")
    if min_action is not None and min_action not in ACTIONS:
        out.add(
            _value_line(item, "min_action"),
            f"unknown action {min_action!r}; expected one of {', '.join(ACTIONS)}",
        )
    condition = None
    when_line = _value_line(item, "when")
    if not isinstance(when, str) or not when.strip():
        out.add(when_line, "when must be a CEL expression (quote it if it is a bare true/false)")
    else:
        try:
            condition = compile_condition(str(when), registry)
        except ConditionError as e:
            # A literal block (`when: |`) starts on the next line; CEL counts from its first.
            offset = e.line if isinstance(when, LiteralScalarString) else e.line - 1
            out.add(when_line + offset, f"rule {rid}: {e.reason}")
    if len(out.items) > before or condition is None:
        return None
    return Rule(
        id=str(rid),
        condition=condition,
        points=int(points),
        reason=str(reason),
        min_action=min_action,
        line=at,
    )


def _thresholds(raw: Any, line: int, out: _Problems) -> Thresholds | None:
    if not isinstance(raw, CommentedSeq) or not raw:
        out.add(line, "thresholds must be a non-empty list of {min, action}")
        return None
    before = len(out.items)
    bands: list[tuple[int, Band, int | None]] = []
    for i, item in enumerate(raw):
        at = _item_line(raw, i)
        if not isinstance(item, CommentedMap):
            out.add(at, "a threshold is a mapping {min, action}")
            continue
        _unknown_keys(item, BAND_KEYS, "a threshold", out)
        low, action, high = item.get("min"), item.get("action"), item.get("max")
        if not _is_int(low):
            out.add(at, f"threshold min must be an integer, got {low!r}")
            continue
        if action not in ACTIONS:
            out.add(at, f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
            continue
        if high is not None and not _is_int(high):
            out.add(at, f"threshold max must be an integer, got {high!r}")
            continue
        bands.append((at, Band(int(low), str(action)), high))
    if len(out.items) > before:
        return None
    for (at, band, high), nxt in zip(bands, [*bands[1:], None], strict=True):
        if nxt is not None:
            nat, nband, _ = nxt
            if nband.min == band.min:
                out.add(nat, f"duplicate threshold min {band.min} (also at line {at})")
            elif nband.min < band.min:
                out.add(
                    nat,
                    f"thresholds must be sorted by min: {nband.min} comes after "
                    f"{band.min} (line {at})",
                )
            elif high is not None and high > nband.min:
                out.add(
                    at,
                    f"threshold [{band.min}, {high}) overlaps the next one starting "
                    f"at {nband.min} (line {nat})",
                )
            elif high is not None and high < nband.min:
                out.add(
                    at,
                    f"gap between thresholds: scores from {high} to {nband.min - 1} have no action",
                )
        elif high is not None:
            out.add(
                at,
                f"the last threshold cannot have a max: scores from {high} up would have no action",
            )
        if high is not None and high <= band.min:
            out.add(at, f"threshold max {high} must be above its min {band.min}")
    if bands and bands[0][1].min > 0:
        out.add(
            bands[0][0],
            "the lowest threshold must start at 0 or below, so a decision "
            "where no rule fires has an action",
        )
    if len(out.items) > before:
        return None
    return Thresholds(tuple(b for _, b, _ in bands))


def load_strategy(path: Path, *, registry: Mapping[str, Feature] = FEATURES) -> Strategy:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise Invalid(f"{path}: cannot read", [Problem(field=f"{path}:1", reason=str(e))]) from e
    return parse_strategy(text, str(path), registry=registry)


def _load_all(paths: Iterable[Path]) -> tuple[list[Strategy], list[Problem]]:
    strategies: list[Strategy] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for path in paths:
        try:
            strategy = load_strategy(path)
        except Invalid as e:
            problems.extend(e.problems)
            continue
        if strategy.key in seen:
            problems.append(
                Problem(
                    field=f"{path}:1",
                    reason=f"{strategy.key} is also defined in {seen[strategy.key]}",
                )
            )
            continue
        seen[strategy.key] = str(path)
        strategies.append(strategy)
    return strategies, problems


def check_files(paths: Iterable[Path]) -> list[Problem]:
    """Every problem of every file (empty: all valid), including one strategy id and version
    defined by two files."""
    return _load_all(paths)[1]


def load_strategies(directory: Path) -> dict[str, Strategy]:
    """Every `*.yaml`/`*.yml` in `directory`, keyed by `id@version`; raises `Invalid` with all
    problems of all files if any is bad, so a deploy never runs half a strategy set."""
    paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    strategies, problems = _load_all(paths)
    if problems:
        raise Invalid(f"{directory}: invalid strategies", problems)
    return {s.key: s for s in strategies}
