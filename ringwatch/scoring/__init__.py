"""Point scoring: strategies (versioned YAML of CEL rules and thresholds), decisions, shadow
comparison and backtests. Pure: no store, no network (docs/strategies.md).

    strategy    Strategy.decide(checkpoint, features) -> Decision
    loader      load_strategy / load_strategies / parse_strategy / check_files
    conditions  CEL compilation and load-time checks
    shadow      compare a live strategy's decisions with candidates'
    backtest    replay events through a strategy and score it against labels
"""

from ringwatch.scoring.actions import ACTIONS, CHECKPOINTS, STRICTNESS, stricter
from ringwatch.scoring.loader import check_files, load_strategies, load_strategy, parse_strategy
from ringwatch.scoring.strategy import Band, Decision, Fired, Rule, Strategy, Thresholds

__all__ = [
    "ACTIONS",
    "CHECKPOINTS",
    "STRICTNESS",
    "Band",
    "Decision",
    "Fired",
    "Rule",
    "Strategy",
    "Thresholds",
    "check_files",
    "load_strategies",
    "load_strategy",
    "parse_strategy",
    "stricter",
]
