"""Shadow mode, the pure half: compare a live strategy's decisions with a candidate's would-be
decisions on the same requests. Recording them is the decision service's job; this module only
reads pairs, either `Decision` objects or their `to_dict()` form as stored in the audit log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ringwatch.scoring.actions import ACTIONS, STRICTNESS
from ringwatch.scoring.strategy import Decision

DecisionLike = Decision | Mapping[str, Any]


def _action(d: DecisionLike) -> str:
    return d.action if isinstance(d, Decision) else str(d["action"])


def _fired(d: DecisionLike) -> list[str]:
    if isinstance(d, Decision):
        return list(d.fired)
    return [str(r["rule"]) for r in d.get("reasons", [])]


@dataclass
class Comparison:
    """Live vs one candidate over n paired decisions."""

    n: int = 0
    agree: int = 0
    stricter: int = 0  # candidate stricter than live
    looser: int = 0
    live_actions: Counter[str] = field(default_factory=Counter)
    candidate_actions: Counter[str] = field(default_factory=Counter)
    live_rules: Counter[str] = field(default_factory=Counter)
    candidate_rules: Counter[str] = field(default_factory=Counter)
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)  # (live, candidate)

    def add(self, live: DecisionLike, candidate: DecisionLike) -> None:
        a, b = _action(live), _action(candidate)
        self.n += 1
        self.agree += a == b
        self.stricter += STRICTNESS[b] > STRICTNESS[a]
        self.looser += STRICTNESS[b] < STRICTNESS[a]
        self.live_actions[a] += 1
        self.candidate_actions[b] += 1
        self.live_rules.update(_fired(live))
        self.candidate_rules.update(_fired(candidate))
        self.confusion[(a, b)] += 1

    @property
    def agreement(self) -> float | None:
        return self.agree / self.n if self.n else None

    def to_dict(self) -> dict[str, Any]:
        def mix(c: Counter[str]) -> dict[str, Any]:
            return {a: {"count": c[a], "share": c[a] / self.n if self.n else None}
                    for a in ACTIONS}

        return {
            "decisions": self.n,
            "agreement": self.agreement,
            "candidate_stricter": self.stricter,
            "candidate_looser": self.looser,
            "action_mix": {"live": mix(self.live_actions),
                           "candidate": mix(self.candidate_actions)},
            "rules_fired": {"live": dict(self.live_rules.most_common()),
                            "candidate": dict(self.candidate_rules.most_common())},
            # rows: live action, columns: candidate action
            "confusion": {a: {b: self.confusion[(a, b)] for b in ACTIONS} for a in ACTIONS},
        }


def compare(pairs: Iterable[tuple[DecisionLike, DecisionLike]]) -> Comparison:
    """One candidate: pairs of (live decision, candidate decision) for the same request."""
    out = Comparison()
    for live, candidate in pairs:
        out.add(live, candidate)
    return out


def compare_many(
    records: Iterable[tuple[DecisionLike, Mapping[str, DecisionLike]]],
) -> dict[str, Comparison]:
    """Many candidates: (live decision, {candidate key: its decision}) per request. A candidate
    missing from some records (added later, or failed) is compared on the requests it saw."""
    out: dict[str, Comparison] = {}
    for live, candidates in records:
        for key, decision in candidates.items():
            out.setdefault(key, Comparison()).add(live, decision)
    return out
