"""Score detection output against a world's planted truth (docs/exports.md)."""

from ringwatch.quality.metrics import (
    average_precision,
    evader_metrics,
    jaccard,
    ring_metrics,
    roc_auc,
)
from ringwatch.quality.readers import Truth, read_accounts, read_evaders, read_rings, read_truth
from ringwatch.quality.report import evaluate

__all__ = [
    "Truth",
    "average_precision",
    "evader_metrics",
    "evaluate",
    "jaccard",
    "read_accounts",
    "read_evaders",
    "read_rings",
    "read_truth",
    "ring_metrics",
    "roc_auc",
]
