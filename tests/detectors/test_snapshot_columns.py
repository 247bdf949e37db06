"""SnapshotColumns.freeze against the record-by-record builder on the same facts."""

from __future__ import annotations

import numpy as np

from ringwatch.detectors._common import identifier_degree
from ringwatch.detectors.snapshot import (
    KINDS,
    NOT_BANNED,
    SKETCH_SIZE,
    SnapshotBuilder,
    SnapshotColumns,
)
from tests.snapshots import assert_same_snapshot


def _columns(rng: np.random.Generator) -> SnapshotColumns:
    n, m = 40, 25
    accounts = np.array([f"acc-{i}" for i in rng.permutation(n)], dtype=object)
    created = rng.integers(-1, 1000, n)
    sketch = rng.integers(0, 2**32, (n, SKETCH_SIZE), dtype=np.uint32)
    sketch[rng.random(n) < 0.3] = 0
    links = 200
    return SnapshotColumns(
        accounts=accounts,
        created_at=created,
        first_seen=np.where(rng.random(n) < 0.2, -1, created + 5),
        banned_at=np.where(rng.random(n) < 0.2, 700, NOT_BANNED),
        country=np.array(rng.choice(["", "US", "FR"], n), dtype=object),
        birthdate=np.array(rng.choice(["", "1990-01-01"], n), dtype=object),
        name_sketch=sketch,
        email_sketch=sketch[::-1].copy(),
        identifiers=np.array([f"k{i % 9}" for i in range(m)], dtype=object),
        identifier_kind=(np.arange(m) % len(KINDS)).astype(np.int8),
        # Duplicated cells on purpose: counts add up, the earliest time stays.
        link_account=rng.integers(0, n, links),
        link_identifier=rng.integers(0, m - 3, links),  # the last ones are unused
        link_count=rng.integers(1, 5, links),
        link_first=rng.integers(0, 10_000, links),
        relation_source=rng.integers(0, n, 60),
        relation_target=rng.integers(0, n, 60),
        relation_kind=rng.integers(0, 4, 60),
        targets=np.array(["t-b", "t-a", "t-c", "t-unused"], dtype=object),
        engage_account=rng.integers(0, n, 50),
        engage_target=rng.integers(0, 3, 50),
        engage_action=rng.integers(0, 8, 50),
        engage_first=rng.integers(0, 10_000, 50),
    )


def test_freeze_equals_the_builder_on_the_same_facts() -> None:
    for seed in range(5):
        columns = _columns(np.random.default_rng(seed))
        slow = SnapshotBuilder()
        columns.replay(slow)
        fast = SnapshotBuilder()
        fast.add_columns(columns)
        got = fast.build()
        assert_same_snapshot(got, slow.build())
        assert got.links.sum() == columns.link_count.sum()  # merged, not dropped
        assert len(got.identifiers) < len(columns.identifiers)  # unused ones left out
        assert "t-unused" not in set(got.engage_targets)


def test_columns_and_single_facts_mix() -> None:
    columns = _columns(np.random.default_rng(7))
    mixed = SnapshotBuilder()
    mixed.add_columns(columns)
    mixed.add_relation("acc-1", "new-acc", "friend")
    got = mixed.build()
    only = SnapshotBuilder()
    columns.replay(only)
    only.add_relation("acc-1", "new-acc", "friend")
    assert_same_snapshot(got, only.build())
    assert "new-acc" in set(got.accounts)


def test_freeze_carries_each_identifiers_store_count_through_the_merge() -> None:
    """A scope's columns list an identifier once per link; the frozen snapshot has it once,
    with its count of accounts in the whole store, which `identifier_degree` then reports
    over the scope's own (smaller) count."""
    columns = SnapshotColumns(
        accounts=np.array(["b", "a"], dtype=object),
        created_at=np.array([10, 20]),
        first_seen=np.array([10, 20]),
        banned_at=np.array([NOT_BANNED, NOT_BANNED]),
        country=np.array(["", ""], dtype=object),
        birthdate=np.array(["", ""], dtype=object),
        name_sketch=np.zeros((2, SKETCH_SIZE), dtype=np.uint32),
        email_sketch=np.zeros((2, SKETCH_SIZE), dtype=np.uint32),
        identifiers=np.array(["nat", "nat", "dev-b", "dev-a"], dtype=object),
        identifier_kind=np.array([1, 1, 0, 0], dtype=np.int8),  # ip, ip, device, device
        identifier_accounts=np.array([4000, 4000, 1, 1]),
        link_account=np.array([0, 1, 0, 1]),
        link_identifier=np.array([0, 1, 2, 3]),
        link_count=np.array([1, 1, 1, 1]),
        link_first=np.array([10, 20, 10, 20]),
        relation_source=np.zeros(0, dtype=np.int64),
        relation_target=np.zeros(0, dtype=np.int64),
        relation_kind=np.zeros(0, dtype=np.int64),
        targets=np.zeros(0, dtype=object),
        engage_account=np.zeros(0, dtype=np.int64),
        engage_target=np.zeros(0, dtype=np.int64),
        engage_action=np.zeros(0, dtype=np.int64),
        engage_first=np.zeros(0, dtype=np.int64),
    )
    frozen = columns.freeze()
    assert [KINDS[k].value for k in frozen.identifier_kind] == ["device", "device", "ip"]
    assert list(frozen.identifiers) == ["dev-a", "dev-b", "nat"]
    assert frozen.identifier_accounts is not None
    assert frozen.identifier_accounts.tolist() == [1, 1, 4000]
    assert identifier_degree(frozen).tolist() == [1, 1, 4000]
    assert np.diff(frozen.links_by_identifier.indptr).tolist() == [1, 1, 2]
