"""Email-stem runs on hand-built populations with known answers (issue 11): a farm minting
mailboxes from one stem is one ring; strangers with common names and families numbering
mailboxes after their surname are not. Accounts come from real events through
records.normalise, so stems, sketches and phone windows are what ingest stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from ringwatch.detectors.email_stems import StemParams, stem_runs
from ringwatch.detectors.pipeline import Ring, detect
from ringwatch.detectors.snapshot import Snapshot, SnapshotBuilder
from ringwatch.events import parse_event
from ringwatch.identity import Pseudonymiser
from ringwatch.records import normalise
from tests.detectors.builders import signup

T0 = 1_735_689_600  # 2025-01-01
DAY = 86400
HASH = Pseudonymiser(b"k" * 32)
NAT = "100.64.1.7"  # one carrier-NAT address in front of thousands of phones
CARRIER = 447700900000  # a UK mobile range
FIRST = ("oliver", "amelia", "harry", "isla", "jack", "ava", "noah", "mia", "leo", "ella")
LAST = ("brown", "wilson", "taylor", "davies", "evans", "thomas", "roberts", "walker", "wright")


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _signup(account: str, ts: int, email: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": f"s-{account}",
        "type": "signup",
        "ts": _iso(ts),
        "account_id": account,
        "email": email,
        "device_id": f"dev-{account}",
        "ip": NAT,
        "country": "GB",
        **fields,
    }


def _background(n: int = 1500, seed: int = 7) -> Iterator[dict[str, Any]]:
    """Ordinary users over half a year behind one carrier NAT, each with a mailbox of their
    own (names from a small pool, so some stems recur), numbers scattered over the range."""
    rng = np.random.default_rng(seed)
    numbers = CARRIER + rng.choice(10**6, n, replace=False)
    for i in range(n):
        first, last = FIRST[i % len(FIRST)], LAST[(i // 3) % len(LAST)]
        yield _signup(
            f"bg{i:05d}",
            T0 + int(rng.integers(0, 180 * DAY)),
            f"{first}.{last}.{i}{int(rng.integers(10, 99))}@gmail.com",
            phone=f"+{int(numbers[i])}",
            birthdate=f"{int(rng.integers(1950, 2005))}-03-0{1 + i % 9}",
        )


def _snapshot(*groups: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> Snapshot:
    b = SnapshotBuilder()
    for group in groups:
        b.add_records(normalise(parse_event(e), HASH) for e in group)
    return b.build()


def _flagged(rings: tuple[Ring, ...], accounts: list[str]) -> list[Ring]:
    wanted = set(accounts)
    return [r for r in rings if r.verdict != "benign" and wanted & set(r.members)]


def _linked(snapshot: Snapshot, accounts: list[str], params: StemParams = StemParams()) -> int:
    """How many distinct pairs among `accounts` the stem runs link."""
    index = snapshot.account_index()
    rows = [index[a] for a in accounts]
    links = stem_runs(snapshot, params)[rows][:, rows]
    return int(links.nnz // 2)


def _farm(k: int, stem: str, start: int, *, numbers: int | None = None) -> list[dict[str, Any]]:
    """k accounts within a few hours, fresh devices, carrier NAT, one stem plus a counter."""
    rng = np.random.default_rng(k)
    out = []
    for j in range(k):
        phone = {"phone": f"+{numbers + j}"} if numbers is not None else {}
        # Some with the separator, some without: one stem either way.
        local = stem if j % 2 else stem.replace(".", "")
        out.append(
            _signup(
                f"farm-{j:02d}",
                start + j * 1500 + int(rng.integers(0, 600)),
                f"{local}{301 + j}@gmail.com",
                birthdate=f"19{70 + 3 * j}-0{1 + j % 9}-1{j % 9}",
                **phone,
            )
        )
    return out


def test_a_stem_farm_of_eight_within_hours_is_one_ring() -> None:
    farm = _farm(8, "anna.kowalski", T0 + 60 * DAY)
    snap = _snapshot(_background(), farm)
    members = [e["account_id"] for e in farm]
    assert _linked(snap, members) == 8 * 7 // 2
    hits = _flagged(detect(snap, seed=1).rings, members)
    assert len(hits) == 1 and set(members) <= set(hits[0].members)
    strangers = [m for m in hits[0].members if m.startswith("bg")]
    assert len(strangers) * 4 <= len(hits[0].members)


def test_common_stems_months_apart_do_not_link_strangers() -> None:
    """A hundred 'john.smith's and a hundred 'maria's at one provider over half a year."""
    rng = np.random.default_rng(3)
    common = []
    for i in range(200):
        stem = "john.smith" if i % 2 else "maria"
        common.append(
            _signup(
                f"c{i:03d}",
                T0 + int(rng.integers(0, 180 * DAY)),
                f"{stem}{int(rng.integers(1, 9999))}@gmail.com",
                birthdate=f"{int(rng.integers(1950, 2005))}-07-1{i % 9}",
            )
        )
    snap = _snapshot(_background(), common)
    people = [e["account_id"] for e in common]
    assert _linked(snap, people) == 0
    assert _flagged(detect(snap, seed=1).rings, people) == []


def test_a_family_numbering_mailboxes_after_its_surname_is_not_a_ring() -> None:
    """Five relatives joining over weeks from home, `kowalczyk1`..`kowalczyk5`, on a family
    contract of consecutive numbers."""
    family = [
        _signup(
            f"fam-{j}",
            T0 + 20 * DAY + j * 8 * DAY,
            f"kowalczyk{j + 1}@gmail.com",
            ip="81.2.5.10",
            phone=f"+{CARRIER + 2_000_100 + j}",
            birthdate=("1968-04-02", "1971-09-13", "1999-07-17", "2001-01-30", "1944-11-05")[j],
        )
        for j in range(5)
    ]
    snap = _snapshot(_background(), family)
    members = [e["account_id"] for e in family]
    assert _linked(snap, members) == 0
    assert _flagged(detect(snap, seed=1).rings, members) == []


def test_a_family_signing_up_together_on_one_contract_is_not_flagged() -> None:
    """The same family registering on one evening: stem and numbers make a joint run, and the
    household it is clears it."""
    family = [
        _signup(
            f"fam-{j}",
            T0 + 20 * DAY + j * 1200,
            f"kowalczyk{j + 1}@gmail.com",
            ip="81.2.5.10",
            device_id="tablet-kowalczyk" if j % 2 else f"phone-{j}",
            phone=f"+{CARRIER + 2_000_100 + j}",
            birthdate=("1968-04-02", "1971-09-13", "2009-07-17", "2011-01-30", "1944-11-05")[j],
        )
        for j in range(5)
    ]
    snap = _snapshot(_background(), family)
    members = [e["account_id"] for e in family]
    assert _linked(snap, members) > 0  # the run is there...
    assert _flagged(detect(snap, seed=1).rings, members) == []  # ...and it is a family


def test_stem_and_phone_window_together_link_a_farm_too_small_for_either() -> None:
    start = T0 + 90 * DAY
    with_numbers = _farm(4, "lena.fischer", start, numbers=CARRIER + 7_000_050)
    without = _farm(4, "lena.fischer", start)
    members = [e["account_id"] for e in with_numbers]
    assert _linked(_snapshot(_background(), without), members) == 0
    assert _linked(_snapshot(_background(), with_numbers), members) == 4 * 3 // 2


def test_a_common_names_owners_bunching_on_one_day_is_chance_among_thousands_of_stems() -> None:
    """20,000 mailboxes over two months on 2,000 common stems: that one stem's owners open six
    in one day is improbable for that stem, but one of 2,000 stems doing so somewhere is not.
    A farm minting eight in an afternoon is improbable for the whole deployment."""
    rng = np.random.default_rng(3)
    b = SnapshotBuilder()

    def mailbox(acc: str, ts: int, stem: str) -> None:
        signup(b, acc, ts, "email_stem", stem)

    for i in range(20_000):
        mailbox(f"p{i}", T0 + int(rng.integers(0, 60 * DAY)), f"name-{i % 2000}")
    for j in range(6):
        mailbox(f"c{j}", T0 + 30 * DAY + j * 3 * 3600, "name-7")
    for j in range(8):
        mailbox(f"f{j}", T0 + 20 * DAY + j * 900, "stem-farm")
    snap = b.build()
    runs = stem_runs(snap).tocsr()
    linked = {str(snap.accounts[i]) for i in np.flatnonzero(np.diff(runs.indptr))}
    assert linked == {f"f{j}" for j in range(8)}


def test_a_run_of_a_rarer_stem_weighs_more() -> None:
    """Eight in one afternoon is less surprising for a stem forty others have."""
    farm = _farm(8, "john.smith", T0 + 60 * DAY)
    rng = np.random.default_rng(5)
    others = [
        _signup(
            f"js{i:03d}",
            T0 + int(rng.integers(0, 180 * DAY)),
            f"john.smith{int(rng.integers(1, 9999))}@gmail.com",
        )
        for i in range(40)
    ]
    rare = _snapshot(_background(), _farm(8, "zbigniew.quark", T0 + 60 * DAY))
    common = _snapshot(_background(), farm, others)
    members = [e["account_id"] for e in farm]

    def weight(snap: Snapshot) -> float:
        index = snap.account_index()
        rows = [index[a] for a in members]
        return float(stem_runs(snap)[rows][:, rows].max())

    assert weight(rare) > weight(common) > 0


@pytest.mark.parametrize(
    "bad", [StemParams(gap=0), StemParams(min_gap=0), StemParams(min_size=1), StemParams(alpha=0)]
)
def test_invalid_parameters_are_refused(bad: StemParams) -> None:
    with pytest.raises(ValueError):
        stem_runs(_snapshot([_signup("a", T0, "anna1@gmail.com")]), bad)
