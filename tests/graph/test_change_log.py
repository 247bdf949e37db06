"""The verdict change log under concurrent writers: every batch applied, every seq unique and
contiguous. (A read-then-SET sequence handed two transactions the same numbers on Neo4j.)"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from ringwatch.graph.queries import cypher
from ringwatch.graph.rows import Statement
from ringwatch.graph.store import GraphStore

pytestmark = pytest.mark.embedded


def test_concurrent_change_batches_get_unique_contiguous_seqs(store: GraphStore) -> None:
    record = cypher("detect/record_changes")

    def write(batch: int) -> bool:
        rows = [{"kind": "created", "subject": "ring", "id": f"r{batch}-{i}", "detail": "{}"}
                for i in range(3)]
        return store.apply_statements(
            f"probe:{batch}", [Statement(record, rows, {"run": "probe", "now": 0})], now=0
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        applied = list(pool.map(write, range(40)))
    assert all(applied)
    seqs = [c["seq"] for c in store.changes_page(0, 1000)]
    assert seqs == list(range(1, 121))
    # A redelivered batch adds nothing.
    assert not write(7)
    assert len(store.changes_page(0, 1000)) == 120
