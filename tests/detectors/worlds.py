"""Load a generated world (events.jsonl + truth.json) into a Snapshot, the way services do:
events -> parse_event -> normalise (keyed) -> SnapshotBuilder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from ringwatch.detectors.snapshot import Snapshot, SnapshotBuilder
from ringwatch.events import parse_event
from ringwatch.identity import Pseudonymiser
from ringwatch.records import FieldError, normalise

KEY = b"ringwatch-detector-tests-key-000"


def snapshot_from_events(path: Path, key: bytes = KEY) -> Snapshot:
    hasher = Pseudonymiser(key)
    builder = SnapshotBuilder()
    with path.open("rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            # Ingest rejects events that cannot be normalised; so do we.
            try:
                record = normalise(parse_event(orjson.loads(line)), hasher)
            except (ValidationError, FieldError):
                continue
            builder.add_record(record)
    return builder.build()


def evaluate_result(result: Any, truth_path: Path) -> dict[str, Any]:
    """The quality harness's metrics for one DetectionResult."""
    from ringwatch.quality.readers import EvaderRow, FlaggedRing, read_truth
    from ringwatch.quality.report import evaluate

    truth = read_truth(truth_path)
    rings = [
        FlaggedRing(r.ring_id, frozenset(r.members), r.verdict, r.score) for r in result.rings
    ]
    evaders = [EvaderRow(e.account_id, [m.banned_id for m in e.matched], e.score)
               for e in result.evaders]
    return evaluate(truth, rings, evaders)
