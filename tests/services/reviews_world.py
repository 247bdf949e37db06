"""Tiny worlds and wiring shared by the review, ring-action and audit tests."""

from __future__ import annotations

from typing import Any

import redis

from ringwatch.graph.store import GraphStore
from ringwatch.identity import Pseudonymiser
from ringwatch.services.audit import Actor
from ringwatch.services.detection import DetectionService
from ringwatch.services.ingest import IngestService
from ringwatch.services.intake import Intake
from tests.events import event, signup
from tests.services.histories import FARM, ingest

CREW = [f"crew{i}" for i in range(4)]
ALICE = Actor("k_alice", "alice")
BOB = Actor("k_bob", "bob")


def ingest_service(store: GraphStore, client: redis.Redis, hasher: Pseudonymiser) -> IngestService:
    return IngestService(store, Intake(client, 30), hasher, batch_size=500)


def crew() -> list[dict[str, Any]]:
    """Four accounts sharing one phone, signed up the same day from different IPs: a suspicious
    ring (one strong identifier, a burst, too few for size to count)."""
    return [
        signup(
            f"s-{a}",
            a,
            ts=f"2026-04-01T09:{i:02d}:00Z",
            device_id=f"dev-{a}",
            phone="+14155550999",
            ip=f"203.0.113.{i + 10}",
        )
        for i, a in enumerate(CREW)
    ]


def joe() -> list[dict[str, Any]]:
    return [
        signup(
            "s-joe",
            "joe",
            ts="2026-01-01T00:00:00Z",
            phone="+14155550123",
            display_name="Joseph Kowalski",
            birthdate="1988-07-14",
            device_id="joe-phone",
        ),
    ]


def ring_of(store: GraphStore, member: str) -> str:
    rings = store.active_rings([member])
    (ring_id,) = [r for r, members in rings.items() if member in members]
    return ring_id


def detect(store: GraphStore) -> DetectionService:
    service = DetectionService(store, seed=3)
    service.run_full()
    return service


__all__ = ["ALICE", "BOB", "CREW", "FARM", "detect", "event", "ingest", "ingest_service"]
