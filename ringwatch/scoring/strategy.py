"""A loaded strategy and its evaluation: `Strategy.decide(checkpoint, features) -> Decision`.

Evaluation semantics (docs/strategies.md):
- rules of the checkpoint are evaluated in file order; a rule fires when its condition is true;
- null: a rule that reads a feature whose value is null (None or absent) is not evaluated and
  does not fire; it is listed in `Decision.skipped`. So "unknown" never adds or removes points;
- a rule that errors at run time does not fire and is listed in `Decision.errors`;
- score = sum of fired rules' points; action = the threshold band the score falls in (scores
  below the lowest band's min fall in the lowest band), then raised to every fired rule's
  `min_action` (e.g. age_gate) if that is stricter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import cel

from ringwatch.errors import Invalid, Problem
from ringwatch.features.registry import FeatureValue
from ringwatch.scoring.actions import CHECKPOINTS, stricter
from ringwatch.scoring.conditions import Condition


@dataclass(frozen=True)
class Rule:
    id: str
    condition: Condition
    points: int
    reason: str
    min_action: str | None = None
    line: int = 0  # where the rule starts in its file (1-based), for messages

    @property
    def when(self) -> str:
        return self.condition.source


@dataclass(frozen=True)
class Band:
    min: int
    action: str


@dataclass(frozen=True)
class Thresholds:
    bands: tuple[Band, ...]  # sorted by min, strictly increasing; checked by the loader

    def action_for(self, score: int) -> str:
        action = self.bands[0].action
        for band in self.bands:
            if score < band.min:
                break
            action = band.action
        return action


@dataclass(frozen=True)
class CheckpointPlan:
    rules: tuple[Rule, ...]
    thresholds: Thresholds

    @cached_property
    def features(self) -> tuple[str, ...]:
        """Every feature some rule of the checkpoint reads: the only ones handed to CEL."""
        return tuple(sorted({name for r in self.rules for name in r.condition.features}))


@dataclass(frozen=True)
class Fired:
    rule: str
    points: int
    reason: str
    seen: dict[str, FeatureValue]  # the value of every feature the condition read
    min_action: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "points": self.points,
            "reason": self.reason,
            "seen": dict(self.seen),
        }
        if self.min_action:
            out["min_action"] = self.min_action
        return out


@dataclass(frozen=True)
class Decision:
    strategy_id: str
    strategy_version: str
    checkpoint: str
    action: str
    score: int
    reasons: tuple[Fired, ...] = ()
    skipped: tuple[str, ...] = ()  # rules not evaluated because a feature they read was null
    errors: tuple[tuple[str, str], ...] = ()  # (rule, message) for rules that failed to run

    @property
    def fired(self) -> tuple[str, ...]:
        return tuple(f.rule for f in self.reasons)

    @property
    def seen(self) -> dict[str, dict[str, FeatureValue]]:
        """rule -> {feature: value the rule's condition read}, for fired rules."""
        return {f.rule: dict(f.seen) for f in self.reasons}

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy_id": self.strategy_id,
            "strategy_version": self.strategy_version,
            "checkpoint": self.checkpoint,
            "action": self.action,
            "score": self.score,
            "reasons": [f.to_dict() for f in self.reasons],
            "skipped": list(self.skipped),
            "errors": [{"rule": r, "error": m} for r, m in self.errors],
        }


@dataclass(frozen=True)
class Strategy:
    id: str
    version: str
    checkpoints: Mapping[str, CheckpointPlan]
    default_thresholds: Thresholds
    min_age: int = 13
    description: str = ""
    source: str = ""  # file it was loaded from
    digest: str = ""  # sha256 of the file text: two loads of the same text are the same strategy
    rule_index: Mapping[str, Rule] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    def rules(self, checkpoint: str) -> tuple[Rule, ...]:
        plan = self.checkpoints.get(checkpoint)
        return plan.rules if plan else ()

    def decide(self, checkpoint: str, features: Mapping[str, FeatureValue]) -> Decision:
        """Evaluate the checkpoint's rules over `features` (a `feature_set`/`assemble` result;
        absent names count as null). A checkpoint the strategy has no section for gets the
        action of score 0 under the strategy's default thresholds and no reasons."""
        if checkpoint not in CHECKPOINTS:
            raise Invalid(
                "unknown checkpoint",
                [Problem(field="checkpoint", reason=f"must be one of {', '.join(CHECKPOINTS)}")],
            )
        plan = self.checkpoints.get(checkpoint)
        if plan is None:
            return Decision(
                self.id, self.version, checkpoint, self.default_thresholds.action_for(0), 0
            )
        values = self._complete(features)
        present: dict[str, FeatureValue] = {
            k: v for k in plan.features if (v := values.get(k)) is not None
        }
        context: cel.Context | None = None
        fired: list[Fired] = []
        skipped: list[str] = []
        errors: list[tuple[str, str]] = []
        for rule in plan.rules:
            names = rule.condition.features
            if not all(n in present for n in names):
                skipped.append(rule.id)
                continue
            if context is None:
                # One context per decision, holding only the features the checkpoint's rules
                # read: converting a value into CEL costs 0.5-3 µs (strings the most), which
                # dominates evaluation (0.5 µs per rule).
                context = cel.Context(present)
            try:
                result = rule.condition.program.execute(context)
            except Exception as e:
                errors.append((rule.id, str(e).split(". ", 1)[0]))
                continue
            if result is True:
                seen = {n: present[n] for n in names}
                fired.append(Fired(rule.id, rule.points, rule.reason, seen, rule.min_action))
        score = sum(f.points for f in fired)
        action = plan.thresholds.action_for(score)
        for f in fired:
            if f.min_action:
                action = stricter(action, f.min_action)
        return Decision(
            self.id,
            self.version,
            checkpoint,
            action,
            score,
            tuple(fired),
            tuple(skipped),
            tuple(errors),
        )

    def _complete(self, features: Mapping[str, FeatureValue]) -> Mapping[str, FeatureValue]:
        """Fill under_min_age from declared_age_years and this strategy's min_age when the
        caller did not: the minimum age is the strategy's policy, not a fact about the user."""
        age = features.get("declared_age_years")
        if features.get("under_min_age") is not None or not isinstance(age, int):
            return features
        values = dict(features)
        values["under_min_age"] = age < self.min_age
        return values
