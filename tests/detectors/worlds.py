"""Load a generated world (events.jsonl + truth.json) into a Snapshot, the way services do:
events -> parse_event -> normalise (keyed) -> SnapshotBuilder.

Parsing a 100k-account world through pydantic takes minutes, so `cached_world` keeps the built
Snapshot (pickled) and the truth file under `.local/cache/worlds/` per (profile, accounts, seed,
generator fingerprint); delete the directory to rebuild.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from ringwatch.detectors.snapshot import Snapshot, SnapshotBuilder
from ringwatch.events import parse_event
from ringwatch.identity import Pseudonymiser
from ringwatch.records import FieldError, normalise

KEY = b"ringwatch-detector-tests-key-000"
ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".local" / "cache" / "worlds"


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


def _generator_fingerprint() -> str:
    """Hash of the world generator's and normaliser's sources: a cached world is stale when
    either changes (a change to the Snapshot layout needs the cache deleted by hand)."""
    import ringwatch.identity
    import ringwatch.records
    import ringwatch.worlds

    h = hashlib.sha256()
    files = sorted(Path(ringwatch.worlds.__file__).parent.glob("*.py"))
    files += [Path(ringwatch.identity.__file__), Path(ringwatch.records.__file__)]
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def cached_world(
    seed: int, accounts: int = 100_000, profile: str = "default"
) -> tuple[Snapshot, Path]:
    """(Snapshot, truth.json path) of a generated world, built once and cached on disk."""
    from ringwatch.worlds import generate

    folder = CACHE / f"{profile}-{accounts}-{seed}-{_generator_fingerprint()}"
    snap_path, truth_path = folder / "snapshot.pkl", folder / "truth.json"
    if snap_path.exists() and truth_path.exists():
        with snap_path.open("rb") as fh:
            snap = pickle.load(fh)
        assert isinstance(snap, Snapshot)
        return snap, truth_path
    work = folder / "events"
    summary = generate(work, accounts, seed, profile)
    snap = snapshot_from_events(summary.events_path)
    folder.mkdir(parents=True, exist_ok=True)
    summary.truth_path.replace(truth_path)
    summary.events_path.unlink()
    work.rmdir()
    tmp = snap_path.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        pickle.dump(snap, fh, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(snap_path)
    return snap, truth_path


def evaluate_result(result: Any, truth_path: Path) -> dict[str, Any]:
    """The quality harness's metrics for one DetectionResult."""
    from ringwatch.quality.readers import EvaderRow, FlaggedRing, read_truth
    from ringwatch.quality.report import evaluate

    truth = read_truth(truth_path)
    rings = [FlaggedRing(r.ring_id, frozenset(r.members), r.verdict, r.score) for r in result.rings]
    evaders = [
        EvaderRow(e.account_id, [m.banned_id for m in e.matched], e.score) for e in result.evaders
    ]
    return evaluate(truth, rings, evaders)
