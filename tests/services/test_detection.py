"""Detection through the store on both engines: write-back, stable ids, incremental runs."""

from __future__ import annotations

import pytest

from ringwatch.detectors.pipeline import Ring
from ringwatch.graph.store import DetectionWrite, GraphStore, RingFilter
from ringwatch.identity import Pseudonymiser
from ringwatch.services import detection, results
from ringwatch.services.detection import DetectionService, link_caps, written_scope
from tests.events import event, signup
from tests.services.histories import FARM, chain, ingest, world

pytestmark = pytest.mark.embedded



def test_full_run_writes_rings_risk_and_is_stable(store: GraphStore, hasher: Pseudonymiser) -> None:
    ingest(store, hasher, "b1", world())
    service = DetectionService(store, seed=3)
    first, summary = service.run_full()
    fraud = [r for r in first.rings if r.verdict != "benign"]
    assert [sorted(r.members) for r in fraud] == [FARM]
    assert summary.accounts == 12
    ring_id = fraud[0].ring_id

    page = results.rings_page(store, RingFilter(verdict=fraud[0].verdict))
    assert [r["id"] for r in page["items"]] == [ring_id]
    view = results.ring_view(store, ring_id)
    assert sorted(m["id"] for m in view["members"]) == FARM
    assert view["history"][0]["event"] in {"created", "born"} or view["history"]
    acc = results.account_view(store, "farm3")
    assert acc["ring_id"] == ring_id and acc["risk"] > 0.5
    assert acc["identifier_counts"]["device"] == 1
    family = results.account_view(store, "fam1")
    assert not family["risk"] or family["risk"] < 0.5

    second, _ = service.run_full()
    assert [r.ring_id for r in second.rings if r.verdict != "benign"] == [ring_id]
    assert len(store.active_rings()) == len(second.rings)
    exported = results.export_rings(store)
    assert {r["ring_id"] for r in exported} == {r.ring_id for r in second.rings}


def test_incremental_run_picks_up_new_member_and_evader(
    store: GraphStore, hasher: Pseudonymiser
) -> None:
    ingest(store, hasher, "b1", world())
    service = DetectionService(store, seed=3)
    first, _ = service.run_full()
    ring_id = next(r.ring_id for r in first.rings if r.verdict != "benign")
    family_before = results.account_view(store, "fam0")
    ingest(
        store,
        hasher,
        "b2",
        [
            signup(
                "s-new",
                "farm-new",
                ts="2026-03-01T11:00:00Z",
                device_id="emulator-1",
                card="card-x",
            ),
            signup(
                "s-joe2",
                "joe-again",
                ts="2026-03-05T00:00:00Z",
                phone="+14155550123",
                display_name="Josef Kowalsky",
                birthdate="1988-07-14",
            ),
        ],
    )
    ran = service.run_incremental(["farm-new", "joe-again"])
    assert ran is not None
    _, summary = ran
    assert summary.complete
    assert "fam0" not in set(store.active_rings(["farm-new"]).get(ring_id, []))
    assert store.active_rings(["farm-new"])[ring_id] == sorted([*FARM, "farm-new"])
    joe = results.account_view(store, "joe-again")
    assert [m["banned"] for m in joe["evader_matches"]][:1] == ["banned-joe"]
    assert joe["evader_score"] > 0
    # Accounts outside the scope keep what the full run gave them.
    family_after = results.account_view(store, "fam0")
    assert (family_after["risk"], family_after["ring_id"]) == (
        family_before["risk"],
        family_before["ring_id"],
    )
    assert family_after["rings"] == family_before["rings"]


def test_unknown_ids_are_not_found(store: GraphStore) -> None:
    from ringwatch.errors import NotFound

    with pytest.raises(NotFound):
        results.ring_view(store, "ring_nope")
    with pytest.raises(NotFound):
        results.account_view(store, "nobody")


def test_link_caps_follow_the_projection() -> None:
    from ringwatch.detectors.pipeline import DetectParams
    from ringwatch.identity import IdentifierKind

    caps = link_caps(DetectParams())
    assert caps[IdentifierKind.DEVICE] == DetectParams().projection.kind_cap["device"]
    # A subnet shared by many accounts adds too little to a pair to link it.
    assert caps[IdentifierKind.SUBNET] < caps[IdentifierKind.IP] <= caps[IdentifierKind.DEVICE]


def test_verdict_changes_are_logged_once_in_order(store: GraphStore, hasher: Pseudonymiser) -> None:
    ingest(store, hasher, "b1", world())
    service = DetectionService(store, seed=3)
    first, _ = service.run_full()
    ring_id = next(r.ring_id for r in first.rings if r.verdict != "benign")
    changes = store.changes_page(0, 1000)
    assert [c["seq"] for c in changes] == list(range(1, len(changes) + 1))
    kinds = {(c["subject"], c["kind"], c["subject_id"]) for c in changes}
    assert ("ring", "created", ring_id) in kinds
    assert {("account", "escalated", a) for a in FARM} <= kinds
    assert not any(c["subject_id"].startswith("fam") for c in changes)

    service.run_full()  # nothing changed: nothing to tell
    assert store.changes_page(len(changes), 1000) == []

    # The farm's members are banned: the ring stays, the accounts' state changes only upstream.
    ingest(
        store,
        hasher,
        "b2",
        [
            event("enforcement", f"ban-{a}", a, ts="2026-03-10T00:00:00Z", action="ban")
            for a in FARM
        ],
    )
    service.run_full()
    later = store.changes_page(len(changes), 1000)
    assert all(c["seq"] > len(changes) for c in later)
    assert store.changes_page(0, 3) == changes[:3]


def test_an_incremental_scope_sees_a_crowded_address_as_crowded(
    store: GraphStore, hasher: Pseudonymiser
) -> None:
    """Forty commuters sign up over one carrier-NAT address (and its /24), each on a phone of
    their own. The address is over its cap, so the full run links nobody through it, and the
    incremental scope from three of them stops there: those three are the whole scope. In it,
    the address has three users; it must still count as the crowd it is (the store's count
    of its accounts), not as a small place three accounts share."""
    commuters = [f"c{i:02d}" for i in range(40)]
    ingest(
        store,
        hasher,
        "b-nat",
        [
            signup(
                f"s-{a}",
                a,
                ts=f"2026-03-{1 + i % 20:02d}T{8 + i % 10:02d}:15:00Z",
                device_id=f"phone-{a}",
                ip="100.64.0.7",
            )
            for i, a in enumerate(commuters)
        ],
    )
    service = DetectionService(store, seed=1)
    service.run_full()
    seeds = commuters[:3]
    assert store.active_rings(seeds) == {}
    scope = store.expand_scope(seeds, link_caps(service.params), 1000)
    assert (scope.accounts, scope.complete) == (seeds, True)
    ran = service.run_incremental(seeds)
    assert ran is not None
    result, _ = ran
    assert [r.members for r in result.rings if set(r.members) & set(seeds)] == []
    assert store.active_rings(seeds) == {}


def test_a_changed_accounts_ring_is_read_whole_and_left_behind_by_all_its_members(
    store: GraphStore, hasher: Pseudonymiser
) -> None:
    """A stored ring of alice and zed, who share no identifier (as members tied by lockstep or
    a run of phone numbers share none). An incremental run from alice reads zed too; the ring
    is not found again, so it is retired and neither member points at it any more. Reading
    alice's scope alone left zed's account pointing at the retired ring."""
    ingest(
        store,
        hasher,
        "b-pair",
        [
            signup("s-alice", "alice", device_id="d-alice", ip="192.0.2.10"),
            signup("s-zed", "zed", device_id="d-zed", ip="203.0.113.77"),
        ],
    )
    planted = DetectionWrite(
        run_id="planted-run",
        kind="incremental",
        started_at=0,
        rings=[{"id": "ring-pair", "score": 0.9, "verdict": "fraud", "size": 2, "evidence": "{}"}],
        ring_history=[],
        members=[{"a": "alice", "ring": "ring-pair"}, {"a": "zed", "ring": "ring-pair"}],
        risk=[
            {
                "a": a,
                "risk": 0.9,
                "ring": "ring-pair",
                "evader": 0.0,
                "sybil": None,
                "engagement": 0.0,
            }
            for a in ("alice", "zed")
        ],
        evader_links=[],
        scope=["alice", "zed"],
        previous_rings=[],
        stats="{}",
    )
    store.save_detection(planted)
    assert results.account_view(store, "zed")["ring_id"] == "ring-pair"

    ran = DetectionService(store, seed=1).run_incremental(["alice"])
    assert ran is not None
    result, summary = ran
    assert {"alice", "zed"} <= {str(a) for a in result.accounts}
    assert summary.accounts == 2
    assert store.active_rings(["alice", "zed"]) == {}
    for member in ("alice", "zed"):
        assert results.account_view(store, member)["ring_id"] is None


def _ring(ring_id: str, *members: str) -> Ring:
    return Ring(ring_id, tuple(members), 0.5, "suspicious", {}, ())


def test_an_incremental_run_writes_the_rings_its_core_sees_whole() -> None:
    """Scope a..h; the core (every place inside the scope) is a and b. Written: the ring of a
    with its member c outside the core; the ring d was in with b before, now dissolved (d's
    result is rewritten, the old ring may be retired); not the ring of g and h, found among
    accounts whose places lie partly outside, nor x, outside the scope."""
    scope = list("abcdefgh")
    rings = [_ring("r1", "a", "c"), _ring("r2", "g", "h")]
    previous = {"old-bd": ["b", "d"], "old-gh": ["g", "h"], "old-ex": ["e", "x"]}
    written, kept = written_scope(rings, scope, ["a", "b"], previous)
    assert written == ["a", "b", "c", "d"]
    assert kept == {"old-bd": ["b", "d"]}
    # Without a bound the core is the scope: everything is written.
    written, kept = written_scope(rings, scope, scope, previous)
    assert written == scope
    assert kept == previous


def test_a_scope_past_its_limit_crosses_one_place_fewer(
    store: GraphStore, hasher: Pseudonymiser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From a, two places reach the chain's five accounts. With room for four, the run
    crosses one place and is complete, instead of a scope cut wherever the limit fell."""
    ingest(store, hasher, "b-chain", chain())
    service = DetectionService(store, seed=1)
    ran = service.run_incremental(["a"])
    assert ran is not None
    assert (ran[1].place_hops, ran[1].complete) == (2, True)
    assert {"a", "e"} <= {str(a) for a in ran[0].accounts}

    monkeypatch.setattr(detection, "MAX_INCREMENTAL_SCOPE", 4)
    ran = service.run_incremental(["a"])
    assert ran is not None
    result, summary = ran
    assert (summary.place_hops, summary.complete) == (1, True)
    assert sorted(str(a) for a in result.accounts) == ["a", "b", "c", "d"]


def test_the_places_an_incremental_scope_crosses_come_from_settings(store: GraphStore) -> None:
    from pydantic import ValidationError

    from ringwatch.settings import Settings

    settings = Settings(_env_file=None, incremental_place_hops=1)  # type: ignore[call-arg]
    assert DetectionService.from_settings(store, settings).incremental_place_hops == 1
    # No place at all would leave no account whose places are all read: nothing to write.
    with pytest.raises(ValidationError, match="incremental_place_hops"):
        Settings(_env_file=None, incremental_place_hops=0)  # type: ignore[call-arg]
