"""A hand-built snapshot whose sharded run must equal `detect()`, and the field-by-field
comparison of two results, shared by the fan-out tests of the service and of a real worker."""

from __future__ import annotations

import numpy as np

from ringwatch.detectors.pipeline import DetectionResult
from ringwatch.detectors.snapshot import Snapshot, SnapshotBuilder


def hand_built() -> Snapshot:
    """Three farms in three components (device + card), a family of three, a loose pair, and
    a banned account whose device a newcomer picks up the day after the ban."""
    b = SnapshotBuilder()
    t0 = 1_700_000_000
    for farm in range(3):
        for i in range(6):
            a = f"f{farm}-{i}"
            b.add_account(a, {"created_at": t0 + 600 * i})
            b.add_link(a, "device", f"farm-device-{farm}", 3, t0)
            b.add_link(a, "card", f"farm-card-{farm}", 2, t0)
            b.add_link(a, "ip", f"farm-ip-{farm}", 5, t0)
    for name in ("mum", "dad", "kid"):
        b.add_account(name, {"created_at": t0 - 86400 * 400})
        b.add_link(name, "ip", "home", 40, t0 - 86400 * 400)
        b.add_link(name, "device", "family-tablet", 4, t0 - 86400 * 300)
    for a in ("p1", "p2"):
        b.add_account(a, {"created_at": t0})
        b.add_link(a, "subnet", "10.1.2.0/24", 1, t0)
    b.add_account("banned", {"created_at": t0 - 86400 * 30, "banned_at": t0, "name": "Jo Smith"})
    b.add_link("banned", "device", "handset", 9, t0 - 86400 * 30)
    b.add_account("newcomer", {"created_at": t0 + 86400, "name": "Jo Smith"})
    b.add_link("newcomer", "device", "handset", 1, t0 + 86400)
    return b.build()


def check_same(a: DetectionResult, b: DetectionResult) -> None:
    # Field by field first, so a failure says which part differs; then the whole.
    assert [r.ring_id for r in a.rings] == [r.ring_id for r in b.rings]
    assert [r.members for r in a.rings] == [r.members for r in b.rings]
    assert [(r.score, r.verdict) for r in a.rings] == [(r.score, r.verdict) for r in b.rings]
    assert [r.evidence for r in a.rings] == [r.evidence for r in b.rings]
    assert a.evaders == b.evaders
    assert np.array_equal(a.risk, b.risk) and np.array_equal(a.ring_of, b.ring_of)
    assert a == b
