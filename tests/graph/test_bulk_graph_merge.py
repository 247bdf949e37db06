"""The bulk loader's workers each fold some batches and their graphs are merged: the merge must
give the tables one fold of every batch gives, whatever batches each worker got."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path
from typing import Any

import pytest

from ringwatch.event_files import read_raw_events
from ringwatch.graph.bulk import falkordb as bulk_falkordb
from ringwatch.graph.bulk import graph as bulk_graph
from ringwatch.graph.bulk.graph import BulkGraph, Tables
from ringwatch.graph.labels import IDENTIFIER_LABEL, IDENTIFIER_REL, Label, Rel
from ringwatch.identity import IdentifierKind, Pseudonymiser
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


@pytest.mark.parametrize("compact_at", [None, 37])
@pytest.mark.parametrize("workers", [2, 3])
def test_merged_worker_graphs_equal_one_fold(
    batches: list[list[Record]], workers: int, compact_at: int | None, monkeypatch: Any
) -> None:
    """`compact_at` 37: the links' raw observations are folded into their aggregate many
    times over, at points that split batches and accounts."""
    if compact_at is not None:
        monkeypatch.setattr(bulk_graph, "COMPACT_AT", compact_at)
    whole = BulkGraph()
    for n, chunk in enumerate(batches):
        whole.add_batch(f"b{n}", chunk, 1)
    want = whole.tables()

    parts = [BulkGraph() for _ in range(workers)]
    for n, chunk in enumerate(batches):
        parts[n % workers].add_batch(f"b{n}", chunk, 1, position=n)
    # The workers' graphs reach the loader pickled, as through the result queue.
    parts = [pickle.loads(pickle.dumps(part)) for part in parts]
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


@pytest.mark.parametrize("compact_at", [None, 37])
def test_links_fold_to_first_last_and_count(
    batches: list[list[Record]], compact_at: int | None, monkeypatch: Any
) -> None:
    """The identifier links against a fold written out by hand from the records: first time
    the least, last the greatest, count the number of events (link_identifier.cypher), and
    each identifier's `accounts` the number of distinct accounts linked to it."""
    if compact_at is not None:
        monkeypatch.setattr(bulk_graph, "COMPACT_AT", compact_at)
    want: dict[tuple[str, str, str], list[int]] = {}
    for chunk in batches:
        for rec in chunk:
            for kind, key in rec["ids"]:
                span = want.setdefault((IDENTIFIER_REL[IdentifierKind(kind)], rec["a"], key), [])
                span.append(int(rec["ts"]))
    graph = BulkGraph()
    for n, chunk in enumerate(batches):
        graph.add_batch(f"b{n}", chunk, 1)
    tables = graph.tables()
    rels = set(IDENTIFIER_REL.values())
    got = {
        (t.rel, a, key): (first, last, count)
        for t in tables.edges
        if t.rel in rels
        for a, key, first, last, count in t.rows
    }
    assert len(got) > 1000
    assert got == {k: (min(ts), max(ts), len(ts)) for k, ts in want.items()}
    per_key: dict[tuple[str, str], set[str]] = {}
    for rel, a, key in want:
        per_key.setdefault((rel, key), set()).add(a)
    labels = {IDENTIFIER_LABEL[k]: IDENTIFIER_REL[k] for k in IDENTIFIER_LABEL}
    accounts = {
        (labels[t.label], key): n for t in tables.nodes if t.label in labels for key, n in t.rows
    }
    assert accounts == {k: len(v) for k, v in per_key.items()}


def _row_by_row(tables: Tables) -> Tables:
    return Tables(
        [dataclasses.replace(t, codes=None) for t in tables.nodes],
        [dataclasses.replace(t, coded=None) for t in tables.edges],
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_graph_bulk_commands_packed_from_columns_equal_row_by_row(
    batches: list[list[Record]], workers: int
) -> None:
    """GRAPH.BULK's bytes packed by numpy from the integer columns (edges, and identifier
    nodes of one key length) are the bytes the row-by-row encoder makes, command by command;
    merged graphs too (their codes are remapped). A subnet's key has its own length, and a
    parent no identifier link names has no code: those tables take the row-by-row path."""
    orphan: Record = {
        "id": "orphan",
        "t": "login",
        "ts": 7,
        "a": "acc-orphan",
        "ids": [["ip", "ip-orphan"]],
        "ip_subnet": ["ip-orphan", "203.0.113.0/24"],  # a subnet no identifier link names
    }
    parts = [BulkGraph() for _ in range(workers)]
    for n, chunk in enumerate([*batches, [orphan]]):
        parts[n % workers].add_batch(f"b{n}", chunk, 1, position=n)
    parts = [pickle.loads(pickle.dumps(part)) for part in parts]
    for part in parts[1:]:
        parts[0].merge(part)
    tables = parts[0].tables()
    assert sum(t.coded is not None for t in tables.edges) > 5
    assert sum(t.codes is not None for t in tables.nodes) > 5
    subnets = next(t for t in tables.nodes if t.label is Label.SUBNET)
    assert ("203.0.113.0/24", None) in subnets.rows
    assert any(t.rel is Rel.PART_OF and t.start is Label.IP for t in tables.edges)
    packed = list(bulk_falkordb.commands("g", tables))
    reference = list(bulk_falkordb.commands("g", _row_by_row(tables)))
    assert len(packed) == len(reference) > 5
    for got, want in zip(packed, reference, strict=True):
        assert got == want
