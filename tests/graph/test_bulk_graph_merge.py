"""The bulk loader's workers each fold some batches and their graphs are merged: the merge must
give the tables one fold of every batch gives, whatever batches each worker got."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ringwatch.event_files import read_raw_events
from ringwatch.graph.bulk.graph import BulkGraph, Tables
from ringwatch.identity import Pseudonymiser
from ringwatch.records import Record
from ringwatch.services.ingest import validate_events
from ringwatch.worlds import generate


def _enforce(event_id: str, account: str, action: str, ts: int) -> Record:
    return {"id": event_id, "t": "enforcement", "ts": ts, "a": account, "ids": [], "action": action}


def _content(tables: Tables) -> tuple[Any, Any]:
    # Row order is the order keys were first seen, which differs between folds; content not.
    nodes = {(t.label, t.columns): sorted(t.rows, key=repr) for t in tables.nodes}
    edges = {(t.rel, t.start, t.end, t.columns): sorted(t.rows, key=repr) for t in tables.edges}
    return nodes, edges


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> list[list[Record]]:
    root: Path = tmp_path_factory.mktemp("merge")
    generate(root / "world", 300, 5, workers=1)
    records, problems = validate_events(
        read_raw_events(root / "world" / "events.jsonl"), Pseudonymiser(b"merge-test-key")
    )
    assert not problems
    chunks = [records[i : i + 97] for i in range(0, len(records), 97)]
    # Enforcement ties across batches: a later batch wins a tie on time, so the replay has to
    # follow batch order, not the order the workers' graphs are merged in.
    chunks[1] += [_enforce("t1", "tie", "ban", 5), _enforce("t2", "tie2", "suspend", 5)]
    chunks[2] += [_enforce("t3", "tie", "suspend", 5), _enforce("t4", "tie2", "ban", 5)]
    chunks[4] += [_enforce("t5", "tie2", "clear", 5)]
    return chunks


@pytest.mark.parametrize("workers", [2, 3])
def test_merged_worker_graphs_equal_one_fold(batches: list[list[Record]], workers: int) -> None:
    whole = BulkGraph()
    for n, chunk in enumerate(batches):
        whole.add_batch(f"b{n}", chunk, 1)
    want = whole.tables()

    parts = [BulkGraph() for _ in range(workers)]
    for n, chunk in enumerate(batches):
        parts[n % workers].add_batch(f"b{n}", chunk, 1, position=n)
    merged = parts[-1]  # merged in reverse, so that order cannot stand in for batch order
    for part in reversed(parts[:-1]):
        merged.merge(part)
    got = merged.tables()

    assert got.node_count == want.node_count > 1000
    assert _content(got) == _content(want)
    # Batch markers keep ingest's order, and the ties were decided by batch order.
    assert [r[0] for r in got.nodes[-1].rows] == [f"b{n}" for n in range(len(batches))]
    accounts = {r[0]: r for t in got.nodes if t.label == "Account" for r in t.rows}
    assert accounts["tie"][-3:] == ("suspend", 5, 5)
    assert accounts["tie2"][-3:] == ("clear", 5, None)
