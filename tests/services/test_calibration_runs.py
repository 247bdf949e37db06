"""The calibrated verdict model through the detection service, on a generated world in the
embedded engine: the run record holds the cross-validated AUC, the API-facing views serve it,
and an incremental run reuses the full run's model."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from ringwatch.detectors.calibration import CalibrationParams
from ringwatch.detectors.pipeline import DetectParams
from ringwatch.events import parse_event
from ringwatch.graph.store import Batch, GraphStore
from ringwatch.identity import Pseudonymiser
from ringwatch.records import normalise
from ringwatch.services import detection
from ringwatch.services.detection import DetectionService
from ringwatch.worlds import generate

pytestmark = pytest.mark.embedded


def load_world(store: GraphStore, hasher: Pseudonymiser, folder: Path, accounts: int) -> None:
    # A world on which the fit beats the prior, so that the calibrated path runs: whether it
    # does depends on the world (seeds 1-3 and 5: calibrated on 2 of 4 either way), and seed 5
    # stopped once banned personas joined their operations' rings (the fit's 88% of labelled
    # fraud rings at the target precision against the prior's 91%: prior kept, as it should be).
    # Seed 2 stopped once young cohorts took in declared teens (fit and prior both at 97%:
    # prior kept); of seeds 1, 3, 4, 6, 7, 8 then, 1 and 3 calibrated. Seed 3 stopped once
    # lockstep, cohorts and bursts were held to chance (fit 93%, prior 97%); of seeds 1 and
    # 3-11 then, 4 calibrates. Seed 4 stopped once personas sharing emulators weighed (fit
    # 94%, prior 97%); of seeds 1-12 then, 8, 9 and 12 calibrate.
    summary = generate(folder, accounts, 9, "heavy-fraud")
    batch: list[dict] = []
    number = 0
    with summary.events_path.open("rb") as fh:
        for line in fh:
            batch.append(orjson.loads(line))
            if len(batch) == 2000:
                store.apply_batch(
                    Batch(f"w{number}", [normalise(parse_event(e), hasher) for e in batch])
                )
                batch, number = [], number + 1
    if batch:
        store.apply_batch(Batch(f"w{number}", [normalise(parse_event(e), hasher) for e in batch]))


def test_full_run_records_the_calibrated_model(
    falkordb_store: GraphStore, hasher: Pseudonymiser, tmp_path: Path
) -> None:
    load_world(falkordb_store, hasher, tmp_path / "world", 6000)
    # A small world: fewer labels than a platform has, so looser targets than the defaults.
    calibration = CalibrationParams(
        min_positive_rings=10,
        folds=3,
        target_precision_fraud=0.9,
        target_precision_suspicious=0.8,
        min_negative_rings=1000,
    )
    params = DetectParams(calibration=calibration)
    service = DetectionService(falkordb_store, params=params, seed=1)
    result, summary = service.run_full()
    record = summary.verdict_model
    assert record["rings"]["positive"] >= 10, record
    assert record["model"] == "calibrated", (record["reason"], record.get("cv"))
    auc = record["cv"]["roc_auc_pu_corrected"]
    assert auc is not None and 0.75 <= auc <= 1.0
    # Flagged rings carry their explanation; what the model says agrees with the verdict.
    flagged = [r for r in result.rings if r.verdict == "fraud"]
    assert flagged
    fitted = record["fitted"]
    for ring in flagged:
        explained = ring.evidence["verdict_model"]
        assert explained["model"] == "calibrated"
        assert explained["probability"] >= fitted["fraud_threshold"] - 1e-3
        assert set(explained["contributions"]) == set(fitted["features"])

    # The run record, as GET /v1/detection/runs serves it.
    runs = detection.runs_page(falkordb_store)["runs"]
    assert runs[0]["run_id"] == summary.run_id
    assert runs[0]["verdict_model"]["cv"]["roc_auc_pu_corrected"] == auc
    assert detection.get_run(falkordb_store, summary.run_id)["verdict_model"] == record

    # An incremental run applies the full run's model instead of fitting its scope's labels.
    # (The scope's rings may differ from the full run's: behaviour links are full-run only, so
    # a ring held together by them has no ring in one member's strong component; rings held by
    # shared devices, cards and phones are tried first.)
    strong = ("device", "card", "phone", "email")
    flagged.sort(key=lambda r: -sum(r.evidence["link_types"].get(k, 0) for k in strong))
    for ring in flagged:
        again = service.run_incremental([ring.members[0]])
        assert again is not None
        inc_result, inc_summary = again
        assert inc_summary.verdict_model["model"] == "calibrated"
        assert inc_summary.verdict_model["fitted"] == fitted
        if inc_result.rings:
            break
    assert inc_result.rings
    assert all(r.evidence["verdict_model"]["model"] == "calibrated" for r in inc_result.rings)


def test_too_few_labels_keep_the_prior_and_say_so(
    falkordb_store: GraphStore, hasher: Pseudonymiser, tmp_path: Path
) -> None:
    load_world(falkordb_store, hasher, tmp_path / "world", 1500)
    params = DetectParams(calibration=CalibrationParams(min_positive_rings=10_000))
    _, summary = DetectionService(falkordb_store, params=params, seed=1).run_full()
    record = summary.verdict_model
    assert record["model"] == "prior"
    assert "< 10000" in record["reason"]
    stored = detection.runs_page(falkordb_store, 1)["runs"][0]["verdict_model"]
    assert stored["model"] == "prior" and stored["reason"] == record["reason"]
