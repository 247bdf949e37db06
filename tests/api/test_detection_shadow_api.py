"""GET /v1/detection/shadow end to end on the embedded engine: events through the API, a full
run with a candidate parameters file beside it, the comparison read back over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ringwatch.api.app import create_app
from ringwatch.services import results
from ringwatch.services.detection import DetectionService
from ringwatch.settings import Settings
from tests.api.conftest import InlineQueue, Role, grant
from tests.events import signup

pytestmark = pytest.mark.embedded

# A device farm (6 accounts on one emulator and one card), a smaller one (3 on another), and a
# pair on a third: below the live minimum ring size of 3.
FARM = [f"farm{i}" for i in range(6)]
TRIO = [f"trio{i}" for i in range(3)]
PAIR = ["pair0", "pair1"]


def _events() -> list[dict[str, object]]:
    out = [
        signup(f"f{i}", a, ts=f"2026-03-01T10:{i:02d}:00Z", device_id="emu", card="c1")
        for i, a in enumerate(FARM)
    ]
    out += [
        signup(f"t{i}", a, ts=f"2026-03-01T11:{i:02d}:00Z", device_id="emu2", card="c2")
        for i, a in enumerate(TRIO)
    ]
    out += [
        signup(f"p{i}", a, ts=f"2026-03-01T12:{i:02d}:00Z", device_id="emu3", card="c3")
        for i, a in enumerate(PAIR)
    ]
    return out


def _client(settings: Settings) -> Iterator[TestClient]:
    queue = InlineQueue()
    app = create_app(settings, queue)
    queue.app = app
    with TestClient(app) as c:
        grant(c)
        assert c.post("/v1/events", json=_events()).status_code == 202
        yield c


def _full_run(client: TestClient) -> str:
    services = client.app.state.services  # type: ignore[attr-defined]
    _, summary = DetectionService.from_settings(services.store, services.settings).run_full()
    return summary.run_id


def _stored(client: TestClient, flagged: bool = True) -> dict[str, list[str]]:
    """The live run's stored rings (flagged ones, or the benign ones), id -> members."""
    store = client.app.state.services.store  # type: ignore[attr-defined]
    return {
        r["ring_id"]: list(r["members"])
        for r in results.export_rings(store)
        if (r["verdict"] in ("fraud", "suspicious")) == flagged
    }


def _live_flagged(client: TestClient) -> dict[str, list[str]]:
    return _stored(client)


@pytest.fixture
def candidate_file(tmp_path: Path) -> Path:
    return tmp_path / "candidate.yaml"


@pytest.fixture
def client(embedded_settings: Settings, candidate_file: Path) -> Iterator[TestClient]:
    settings = embedded_settings.model_copy(update={"shadow_detection_file": candidate_file})
    yield from _client(settings)


def test_no_shadow_candidate_is_404_saying_how_to_set_one(
    embedded_settings: Settings,
) -> None:
    for c in _client(embedded_settings):
        r = c.get("/v1/detection/shadow")
        assert r.status_code == 404 and "no full detection run" in r.json()["error"]
        _full_run(c)
        r = c.get("/v1/detection/shadow")
        assert r.status_code == 404
        assert "RINGWATCH_SHADOW_DETECTION_FILE" in r.json()["error"]


def test_identical_candidate_agrees_on_every_ring(
    client: TestClient, candidate_file: Path
) -> None:
    candidate_file.write_text("{}\n")
    run_id = _full_run(client)
    live = _live_flagged(client)
    assert live, "the farm must be flagged live for this test to mean anything"
    body = client.get("/v1/detection/shadow").json()
    assert body["run_id"] == run_id
    cmp = body["comparison"]
    assert cmp["live_flagged"] == cmp["candidate_flagged"] == cmp["both_flagged"] == len(live)
    assert cmp["ring_agreement"] == 1.0 and cmp["member_agreement"] == 1.0
    assert cmp["rings_gained"] == [] and cmp["rings_lost"] == []
    assert cmp["members_gained"] == cmp["members_lost"] == 0
    assert body["candidate"]["overrides"] == {}
    assert body["candidate"]["rings"] == body["live"]["rings"]


def test_stricter_candidate_loses_the_rings_and_members_it_would_not_flag(
    client: TestClient, candidate_file: Path
) -> None:
    # Rings of at least 7 members only: both farms are too small for the candidate.
    candidate_file.write_text("min_ring_size: 7\n")
    run_id = _full_run(client)
    live = _live_flagged(client)
    assert live
    body = client.get("/v1/detection/shadow", params={"run_id": run_id}).json()
    cmp = body["comparison"]
    assert body["candidate"]["overrides"] == {"min_ring_size": 7}
    assert cmp["candidate_flagged"] == 0 and cmp["both_flagged"] == 0
    assert cmp["ring_agreement"] == 0.0
    assert {c["ring_id"] for c in cmp["rings_lost"]} == set(live)
    assert {c["ring_id"]: c["members"] for c in cmp["rings_lost"]} == {
        k: len(v) for k, v in live.items()
    }
    assert cmp["members_lost"] == len({m for v in live.values() for m in v})
    assert cmp["rings_gained"] == [] and cmp["members_gained"] == 0
    # The live rings are untouched by the candidate: the shadow writes nothing.
    assert set(_live_flagged(client)) == set(live)
    # The lists are capped by `limit`, the totals are not.
    capped = client.get("/v1/detection/shadow", params={"limit": 0}).json()["comparison"]
    assert capped["rings_lost"] == [] and capped["rings_lost_total"] == len(live)


def test_looser_candidate_gains_the_ring_live_does_not_report(
    client: TestClient, candidate_file: Path
) -> None:
    # Pairs are rings for the candidate: the pair on one device and card is gained.
    candidate_file.write_text("min_ring_size: 2\n")
    _full_run(client)
    live = _live_flagged(client)
    assert not any(set(PAIR) & set(m) for m in live.values())
    cmp = client.get("/v1/detection/shadow").json()["comparison"]
    assert cmp["live_flagged"] == len(live)
    assert [(c["members"], c["paired_with"]) for c in cmp["rings_gained"]] == [(2, None)]
    assert cmp["members_gained"] == 2
    assert cmp["both_flagged"] == len(live) and cmp["rings_lost"] == []
    assert cmp["ring_agreement"] == round(len(live) / (len(live) + 1), 6)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("min_ring_sise: 4\n", "min_ring_sise"),
        ("verdicts:\n  fraud_treshold: 0.5\n", "verdicts.fraud_treshold"),
        ("min_ring_size: four\n", "min_ring_size"),
        ("- 1\n", "RINGWATCH_SHADOW_DETECTION_FILE"),
    ],
)
def test_a_bad_candidate_file_is_refused_naming_the_field(
    client: TestClient, candidate_file: Path, text: str, field: str
) -> None:
    from ringwatch.errors import Invalid

    candidate_file.write_text(text)
    with pytest.raises(Invalid) as err:
        _full_run(client)
    assert err.value.problems[0].field == field


def test_investigators_may_read_it(client: TestClient, candidate_file: Path, client_as) -> None:  # type: ignore[no-untyped-def]
    candidate_file.write_text("{}\n")
    _full_run(client)
    assert client_as(Role.INVESTIGATOR).get("/v1/detection/shadow").status_code == 200
