"""Raw event histories that the service and worker tests ingest, and the writes that put them
(or a detection step's change records) into a store without the services."""

from __future__ import annotations

from typing import Any

from ringwatch.events import parse_event
from ringwatch.graph.queries import cypher
from ringwatch.graph.rows import Statement
from ringwatch.graph.store import Batch, GraphStore
from ringwatch.identity import Pseudonymiser
from ringwatch.records import normalise
from tests.events import event, signup

FARM = [f"farm{i}" for i in range(8)]


def ingest(store: GraphStore, hasher: Pseudonymiser, batch_id: str, raw: list[dict]) -> None:
    store.apply_batch(Batch(batch_id, [normalise(parse_event(e), hasher) for e in raw]))


def record(store: GraphStore, batch_id: str, rows: list[dict[str, Any]], now: int) -> None:
    statement = Statement(cypher("detect/record_changes"), rows, {"run": batch_id, "now": now})
    assert store.apply_statements(batch_id, [statement], now=now)


def farm() -> list[dict[str, Any]]:
    """Eight accounts on one emulator and one stolen card, signed up within minutes: fraud."""
    return [
        signup(
            f"s-{a}",
            a,
            ts=f"2026-03-01T10:{i:02d}:00Z",
            device_id="emulator-1",
            card="card-x",
            ip=f"198.51.100.{i + 1}",
        )
        for i, a in enumerate(FARM)
    ]


def world() -> list[dict]:
    """The farm, a family of three on a tablet and home IP, and a banned account."""
    raw = farm()
    # A family: a shared tablet and home IP, signed up years apart.
    raw += [
        signup(
            f"s-fam{i}",
            f"fam{i}",
            ts=f"20{18 + 2 * i}-05-01T10:00:00Z",
            device_id="tablet",
            ip="203.0.113.50",
            birthdate=f"{1970 + 15 * i}-01-01",
        )
        for i in range(3)
    ]
    raw += [
        signup(
            "s-old",
            "banned-joe",
            ts="2026-01-01T00:00:00Z",
            phone="+14155550123",
            display_name="Joseph Kowalski",
            birthdate="1988-07-14",
            device_id="joe-phone",
        ),
        event("enforcement", "ban-joe", "banned-joe", ts="2026-02-01T00:00:00Z", action="ban"),
    ]
    return raw


def chain() -> list[dict]:
    """a-b share a device, b-c an address, c-d a card, d-e an address."""
    return [
        signup("s-a", "a", device_id="d-ab"),
        signup("s-b", "b", device_id="d-ab", ip="10.0.1.1"),
        signup("s-c", "c", ip="10.0.1.1", card="card-cd"),
        signup("s-d", "d", card="card-cd", ip="10.0.2.1"),
        signup("s-e", "e", ip="10.0.2.1"),
    ]


def logins(n: int, prefix: str = "e") -> list[dict]:
    return [
        event(
            "login", f"{prefix}{i}", f"acc{i % 13}", ip=f"198.51.100.{i % 5}", device_id=f"d{i % 9}"
        )
        for i in range(n)
    ]
