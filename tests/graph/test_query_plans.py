"""Queries driven by a list of ids or rows look each one up by index, on both engines.

A label scan repeated per input row is invisible on a test graph and quadratic on a real one:
FalkorDB planned the incremental scope expansion (`UNWIND $ids … MATCH (:Account {id: id})-->(i)
WHERE i.accounts <= $cap`) from a scan of every identifier per id, 13-22 s per kind for 2,000 ids
on a 6,000-account graph, and the review upsert's MERGE on `open_key` scanned every review on
both. EXPLAIN runs nothing, so the plans are read on an empty graph with the schema in place.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import pytest

from ringwatch.graph.labels import Label, Rel
from ringwatch.graph.queries import cypher, slots_of, source
from ringwatch.graph.store import SNAPSHOT_RELS, CypherStore, GraphStore
from ringwatch.identity import IdentifierKind

pytestmark = pytest.mark.embedded

SCANS = ("Label Scan", "All Node Scan", "NodeByLabelScan", "AllNodesScan")
_PARAM = re.compile(r"\$(\w+)")
_LIST_DRIVEN = re.compile(r"UNWIND \$\w+|\bIN \$\w+")
SLOT_VALUES: dict[str, Any] = {
    "LABEL": Label.DEVICE,
    "REL": Rel.USES_DEVICE,
    "RELS": SNAPSHOT_RELS,
    "CHILD": Label.IP,
    "PARENT": Label.SUBNET,
    "PROP": "risk",
}
# FalkorDB type-checks parameters while planning; anything not named here is a list.
SCALAR_PARAMS: dict[str, Any] = {
    "now": 1,
    "cap": 50,
    "limit": 10,
    "batch": "b",
    "events": 1,
    "account": "a",
    "own": True,
    "run": "r",
    "status": "open",
    "seq": 1,
}


def list_driven_queries() -> list[str]:
    root = resources.files("ringwatch.cypher")
    names = []
    for folder in root.iterdir():
        if not folder.is_dir() or folder.name in ("schema", "admin", "analyst"):
            continue
        for entry in folder.iterdir():
            name = f"{folder.name}/{entry.name.removesuffix('.cypher')}"
            if entry.name.endswith(".cypher") and _LIST_DRIVEN.search(source(name)):
                names.append(name)
    return sorted(names)


def text_of(name: str) -> str:
    return cypher(name, **{slot: SLOT_VALUES[slot] for slot in slots_of(name)})


def params_of(query: str) -> dict[str, Any]:
    return {p: SCALAR_PARAMS.get(p, []) for p in set(_PARAM.findall(query))}


def scans_in(store: GraphStore, query: str, params: dict[str, Any] | None = None) -> list[str]:
    plan = store.query_plan(query, params_of(query) if params is None else params)
    assert plan, "no plan came back"
    return [line.strip() for line in plan if any(scan in line for scan in SCANS)]


def test_the_list_driven_queries_are_found() -> None:
    names = list_driven_queries()
    # The ones this test was written for, so that a change in how they are found shows.
    for name in ("read/expand_scope", "read/active_rings_of", "reviews/upsert"):
        assert name in names
    assert len(names) >= 25


@pytest.mark.parametrize("name", list_driven_queries())
def test_a_list_driven_query_never_scans_a_label(store: GraphStore, name: str) -> None:
    assert scans_in(store, text_of(name)) == []


def test_the_live_facts_of_a_decision_never_scan_a_label(store: GraphStore) -> None:
    assert isinstance(store, CypherStore)
    keys = {IdentifierKind.DEVICE: ["d"], IdentifierKind.PHONE: [], IdentifierKind.CARD: ["c"]}
    for own in (True, False):
        query, params = store._live_facts_query("a", keys, "198.51.100.0/24", 50, own=own)
        assert scans_in(store, query, params) == []


def test_a_scan_is_reported(store: GraphStore) -> None:
    # The check itself: an unindexed lookup per row is what it flags.
    assert scans_in(store, "UNWIND $ids AS id MATCH (r:Review {note: id}) RETURN r.id")


PAGE_PARAMS: dict[str, Any] = {
    "at": 0,
    "id": "",
    "limit": 50,
    "subject_type": "account",
    "subject_id": "a",
    "status": "open",
    "statuses": ["open", "claimed"],
    "now": 0,
    "created": 0,
    "priority": 1.0,
}


@pytest.mark.parametrize(
    "name", ["audit/page", "audit/page_subject", "reviews/page_created", "reviews/page_priority"]
)
def test_a_page_reads_through_an_index(store: GraphStore, name: str) -> None:
    # The audit log grows with every review and ring action, and resolved review items stay:
    # a page, or one account's history, must not read all of them.
    query = cypher(name)
    assert scans_in(store, query, {p: PAGE_PARAMS[p] for p in set(_PARAM.findall(query))}) == []
