"""Backtests: replay an event history in time order through a strategy and score the outcome.

Every checkpoint event (signup, login, payment, engage -> content) gets a decision from the
features as of its time (`features.replay`). An account's outcome is the strictest action it
ever got. Outcomes are scored against labels: a synthetic world's truth (positive = any label but
benign) or, without truth, enforcement (positive = banned at some point in the history).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ringwatch.event_files import LineError, read_events
from ringwatch.events import parse_event
from ringwatch.features.detections import Detections
from ringwatch.features.replay import ReplayState
from ringwatch.features.signals import DatacenterRanges
from ringwatch.identity import Pseudonymiser
from ringwatch.quality.readers import Truth
from ringwatch.records import FieldError, Record, normalise
from ringwatch.scoring.actions import ACTIONS, STRICTNESS
from ringwatch.scoring.replay_detection import DetectionReplay
from ringwatch.scoring.strategy import Decision, Strategy

RING_FEATURES = frozenset({"ring_verdict", "ring_size", "ring_score"})
EVADER_FEATURES = frozenset({"evader_score", "evader_match"})
# Identifiers are only compared for equality here, so any key gives the same backtest.
BACKTEST_KEY = b"ringwatch-backtest-pseudonymiser-key"


def records_from_file(
    path: Path, key: bytes = BACKTEST_KEY, rejected: Counter[str] | None = None
) -> Iterator[Record]:
    """Normalised records of an event file, in file order; invalid lines are counted in
    `rejected` (by reason) and skipped, as ingest would reject them."""
    hasher = Pseudonymiser(key)
    for _, raw in read_events(path):
        try:
            if isinstance(raw, LineError):
                raise raw
            yield normalise(parse_event(raw), hasher)
        except (LineError, ValidationError, FieldError) as e:
            if rejected is not None:
                rejected[type(e).__name__] += 1


@dataclass
class _Outcome:
    action: str = "allow"
    rules: set[str] = field(default_factory=set)


def ratio(num: int, den: int) -> float | None:
    return round(num / den, 6) if den else None


@dataclass
class Backtest:
    """Accumulates decisions; `report(labels)` scores them. Usable incrementally (the CLI feeds
    it record by record to drive a progress bar)."""

    strategy: Strategy
    state: ReplayState
    outcomes: dict[str, _Outcome] = field(default_factory=dict)
    decisions: Counter[tuple[str, str]] = field(default_factory=Counter)  # (checkpoint, action)
    rule_decisions: Counter[str] = field(default_factory=Counter)
    rule_errors: Counter[str] = field(default_factory=Counter)
    ever_banned: set[str] = field(default_factory=set)
    events: int = 0
    # Detection replayed at simulated times (`--detect-every`); None: `state.detections` as given.
    detection: DetectionReplay | None = None
    # account -> ts (s) of its first decision on which a ring / evader rule fired
    first_ring_decision: dict[str, int] = field(default_factory=dict)
    first_evader_decision: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        by_kind = {"ring": RING_FEATURES, "evader": EVADER_FEATURES}
        self.rule_kind: dict[str, str] = {
            rule_id: kind
            for rule_id, rule in self.strategy.rule_index.items()
            for kind, names in by_kind.items()
            if names & set(rule.condition.features)
        }

    def feed(self, rec: Mapping[str, Any]) -> Decision | None:
        self.events += 1
        if rec["t"] == "enforcement" and rec.get("action") == "ban":
            self.ever_banned.add(rec["a"])
        if self.detection is not None:
            # Runs detection first when this record lies past the next detection time, over
            # the records before it only; the record itself is added after.
            fresh = self.detection.observe(rec)
            if fresh is not None:
                self.state.detections = fresh
        features = self.state.observe(rec)
        if features is None:
            return None
        checkpoint = str(features["checkpoint"])
        decision = self.strategy.decide(checkpoint, features)
        if decision.fired and self.rule_kind:
            ts = int(rec["ts"]) // 1000
            for rule in decision.fired:
                kind = self.rule_kind.get(rule)
                if kind == "ring":
                    self.first_ring_decision.setdefault(rec["a"], ts)
                elif kind == "evader":
                    self.first_evader_decision.setdefault(rec["a"], ts)
        outcome = self.outcomes.setdefault(rec["a"], _Outcome())
        if STRICTNESS[decision.action] > STRICTNESS[outcome.action]:
            outcome.action = decision.action
        outcome.rules.update(decision.fired)
        self.decisions[(checkpoint, decision.action)] += 1
        self.rule_decisions.update(decision.fired)
        self.rule_errors.update(rule for rule, _ in decision.errors)
        return decision

    def report(self, truth: Truth | None = None) -> dict[str, Any]:
        if truth is not None:

            def positive(a: str) -> bool:
                return truth.is_bad(a)

            def label(a: str) -> str:
                return truth.label(a)
        else:

            def positive(a: str) -> bool:
                return a in self.ever_banned

            def label(a: str) -> str:
                return "banned" if a in self.ever_banned else "not_banned"

        accounts = list(self.outcomes)
        pos = {a for a in accounts if positive(a)}
        n_pos, n_neg = len(pos), len(accounts) - len(pos)

        def scored(members: Iterable[str]) -> dict[str, Any]:
            group = list(members)
            hits = sum(1 for a in group if a in pos)
            return {
                "accounts": len(group),
                "positives": hits,
                "precision": ratio(hits, len(group)),
                "recall": ratio(hits, n_pos),
            }

        by_action = {
            act: scored(a for a in accounts if self.outcomes[a].action == act) for act in ACTIONS
        }
        at_least = {
            act: scored(
                a for a in accounts if STRICTNESS[self.outcomes[a].action] >= STRICTNESS[act]
            )
            for act in ACTIONS[1:]
        }
        fired_by: dict[str, list[str]] = defaultdict(list)
        for a in accounts:
            for rule in self.outcomes[a].rules:
                fired_by[rule].append(a)
        by_rule = {}
        for rule_id in self.strategy.rule_index:
            row = scored(fired_by.get(rule_id, []))
            row["decisions"] = self.rule_decisions.get(rule_id, 0)
            row["errors"] = self.rule_errors.get(rule_id, 0)
            by_rule[rule_id] = row
        labels: dict[str, Counter[str]] = defaultdict(Counter)
        for a in accounts:
            labels[label(a)][self.outcomes[a].action] += 1
        by_label = {
            name: {
                "accounts": sum(c.values()),
                **{act: c.get(act, 0) for act in ACTIONS},
                "review_or_block": ratio(c["review"] + c["block"], sum(c.values())),
            }
            for name, c in sorted(labels.items())
        }
        negatives_allowed = sum(
            1 for a in accounts if a not in pos and self.outcomes[a].action == "allow"
        )
        per_checkpoint: dict[str, dict[str, int]] = defaultdict(dict)
        for (cp, act), n in sorted(self.decisions.items()):
            per_checkpoint[cp][act] = n
        return {
            "strategy": self.strategy.key,
            "labels": "truth" if truth is not None else "enforcement (banned = positive)",
            "events": self.events,
            "decisions": sum(self.decisions.values()),
            "accounts": len(accounts),
            "positives": n_pos,
            "negatives": n_neg,
            "negatives_allowed": ratio(negatives_allowed, n_neg),
            "positives_review_or_block": at_least["review"]["recall"],
            "detections_leak_future": self.detection is None and self.state.detections is not None,
            "out_of_order_events": self.state.out_of_order,
            "by_action": by_action,
            "at_least": at_least,
            "by_rule": by_rule,
            "by_label": by_label,
            "decisions_by_checkpoint": dict(per_checkpoint),
            "detection_rules": self._detection_rules(by_rule, truth),
            "ring_delay": self._ring_delay(truth) if truth is not None else None,
            "detection_replay": self.detection.summary() if self.detection else None,
        }

    def _detection_rules(
        self, by_rule: Mapping[str, Mapping[str, Any]], truth: Truth | None
    ) -> dict[str, dict[str, Any]]:
        """The ring and evader rules' rows of by_rule, plus recall of what each kind is for:
        ring rules against the world's ring members, evader rules against its repeat offenders
        (only with truth)."""
        targets: dict[str, set[str]] = {}
        if truth is not None:
            targets["ring"] = {m for r in truth.rings for m in r["members"]}
            targets["evader"] = set(truth.repeat_offenders)
        fired_by: dict[str, set[str]] = defaultdict(set)
        for a, outcome in self.outcomes.items():
            for rule in outcome.rules:
                fired_by[rule].add(a)
        out = {}
        for rule_id, kind in self.rule_kind.items():
            row = {"kind": kind, **by_rule[rule_id]}
            if kind in targets:
                want = targets[kind] & self.outcomes.keys()
                row[f"recall_of_{kind}_accounts"] = ratio(len(fired_by[rule_id] & want), len(want))
            out[rule_id] = row
        return out

    def _ring_delay(self, truth: Truth) -> dict[str, Any]:
        """Per planted ring: from its first member's creation to the first decision on a
        member that a ring rule fired on (hours)."""
        created = self.state.created
        delays: list[float] = []
        rings = []
        for ring in truth.rings:
            members = [m for m in ring["members"] if m in created]
            if not members:
                continue
            start = min(created[m] for m in members)
            hits = [self.first_ring_decision[m] for m in members if m in self.first_ring_decision]
            flagged = [self.detection.first_flagged_ring[m] for m in members
                       if self.detection and m in self.detection.first_flagged_ring]
            delay = round((min(hits) - start) / 3600, 2) if hits else None
            if delay is not None:
                delays.append(delay)
            rings.append({
                "ring_id": ring.get("ring_id"),
                "size": len(members),
                "first_member_at": start,
                "first_detected_at": min(flagged) if flagged else None,
                "first_flagged_decision_at": min(hits) if hits else None,
                "delay_hours": delay,
                "members_with_ring_decision": len(hits),
            })
        delays.sort()

        def pct(q: float) -> float | None:
            return delays[min(len(delays) - 1, int(q * len(delays)))] if delays else None

        return {
            "rings": len(rings),
            "rings_with_flagged_decision": len(delays),
            "delay_hours_p50": pct(0.5),
            "delay_hours_p90": pct(0.9),
            "delay_hours_max": delays[-1] if delays else None,
            "by_ring": rings,
        }


def backtest(
    strategy: Strategy,
    records: Iterable[Mapping[str, Any]],
    truth: Truth | None = None,
    *,
    detections: Detections | None = None,
    datacenter: DatacenterRanges | None = None,
    detection_replay: DetectionReplay | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Replay `records` (normalised, in time order) through `strategy`; the report's schema is
    in docs/strategies.md. `progress` gets the number of records done, every 10,000."""
    started = time.perf_counter()
    run = Backtest(
        strategy,
        ReplayState(detections=detections, datacenter=datacenter, min_age=strategy.min_age),
        detection=detection_replay,
    )
    for rec in records:
        run.feed(rec)
        if progress and run.events % 10_000 == 0:
            progress(run.events)
    report = run.report(truth)
    report["seconds"] = round(time.perf_counter() - started, 3)
    return report
