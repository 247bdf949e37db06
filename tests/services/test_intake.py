"""Claims in real Redis: the claim-only script gives the answers and ledger of the full one."""

from __future__ import annotations

import random
from typing import Any

import pytest
import redis

from ringwatch.services.intake import CLAIM_RUN, Intake

pytestmark = pytest.mark.redis

DAY_MS = 86_400_000
START_MS = 1_767_225_600_000


def _ledger(client: redis.Redis) -> dict[bytes, dict[bytes, bytes]]:
    ledger = {key: client.hgetall(key) for key in client.keys("rw:dedupe:*")}
    assert all(client.ttl(key) > 0 for key in ledger)
    return ledger


def _replay(client: redis.Redis, calls: list[tuple[str, list[dict[str, Any]]]], keep: bool) -> Any:
    client.flushdb()
    intake = Intake(client, dedupe_window_days=30)
    answers = [
        intake.accept(b, records, keep_payload=keep).duplicate_indexes for b, records in calls
    ]
    return answers, _ledger(client)


def test_claims_alone_answer_as_the_full_acceptance(redis_client: redis.Redis) -> None:
    """Duplicates inside a call, across calls and days, a batch re-sent after a crash (its own
    claims kept), events out of time order and a call longer than one run of the script."""
    rng = random.Random(7)
    calls: list[tuple[str, list[dict[str, Any]]]] = []
    for n in range(40):
        size = rng.choice([1, 5, 50, 300])
        records = [
            {"id": f"ev{rng.randrange(400)}", "ts": START_MS + rng.randrange(3) * DAY_MS + n}
            for _ in range(size)
        ]
        if rng.random() < 0.5:
            records.sort(key=lambda r: r["ts"])
        calls.append((f"b{rng.randrange(12)}", records))
    long_run = [
        {"id": f"long{i % (CLAIM_RUN + 500)}", "ts": START_MS} for i in range(2 * CLAIM_RUN)
    ]
    calls.append(("b-long", long_run))

    full_answers, full_ledger = _replay(redis_client, calls, keep=True)
    claim_answers, claim_ledger = _replay(redis_client, calls, keep=False)

    assert claim_answers == full_answers
    assert claim_ledger == full_ledger
    assert sum(map(len, full_answers)) > 1000  # the scenario did exercise duplicates
    assert full_answers[-1] == list(range(CLAIM_RUN + 500, 2 * CLAIM_RUN))
