"""analyst_read and the saved investigations on both engines, on a small hand-built graph.

Other tests share the Neo4j database, so everything here lives under a per-test id prefix and
"the graph is unchanged" is checked on that prefix only.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from ringwatch.errors import BadQuery, Forbidden, Invalid, NotFound, QueryTimeout
from ringwatch.graph.store import AnalystResult, GraphStore
from ringwatch.services import analysts

TIMEOUT_S = 10.0

# Accounts a1..a7 and a banned b0. Devices d1 (a1 a2 a3), d2 (a1 a2); phone p1 (a3 a4);
# card c1 (a4 a5); email e1 (a5 a6); card c2 (a6 b0); an IP hub used by a1 a6 a7 that claims
# 1000 accounts. Ring r1 (active): a1 a2 a3. Ring r2 (active): a6 a7. Ring r0 (retired): a6.
ACCOUNTS = """
UNWIND $ids AS id
CREATE (a:Account {id: $p + id})
SET a.banned_at = CASE WHEN id = 'b0' THEN 1700000000000 ELSE null END
"""
# (label, relationship, key, claimed account count, users)
LINKS = [
    ("Device", "USES_DEVICE", "d1", 3, ["a1", "a2", "a3"]),
    ("Device", "USES_DEVICE", "d2", 2, ["a1", "a2"]),
    ("Phone", "USES_PHONE", "p1", 2, ["a3", "a4"]),
    ("Card", "USES_CARD", "c1", 2, ["a4", "a5"]),
    ("Email", "USES_EMAIL", "e1", 2, ["a5", "a6"]),
    ("Card", "USES_CARD", "c2", 2, ["a6", "b0"]),
    ("IP", "USES_IP", "hub", 1000, ["a1", "a6", "a7"]),
]
LINK = """
CREATE (i:{label} {{key: $p + $key, accounts: $n}})
WITH i
UNWIND $users AS user
MATCH (a:Account {{id: $p + user}})
CREATE (a)-[:{rel}]->(i)
"""

RINGS = """
UNWIND [['r1', 'active', ['a1','a2','a3']], ['r2', 'active', ['a6','a7']],
        ['r0', 'retired', ['a6']]] AS r
CREATE (g:Ring {id: $p + r[0], status: r[1], verdict: 'fraud', score: 0.9, size: size(r[2])})
WITH g, r
UNWIND r[2] AS member
MATCH (a:Account {id: $p + member})
CREATE (a)-[:MEMBER_OF]->(g)
"""

# The prefix's own subgraph, as comparable data: every node with its properties and every edge.
FINGERPRINT = """
MATCH (n) WHERE coalesce(n.id, n.key, '') STARTS WITH $p
OPTIONAL MATCH (n)-[r]->(m)
RETURN coalesce(n.id, n.key) AS node, labels(n) AS labels, properties(n) AS props,
       type(r) AS rel, coalesce(m.id, m.key) AS other
ORDER BY node, rel, other
"""


@pytest.fixture
def graph(store: GraphStore) -> tuple[GraphStore, str]:
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    writer: Any = store  # write() is on both engines' CypherStore, not on the protocol
    writer.write(ACCOUNTS, {"p": prefix, "ids": ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "b0"]})
    for label, rel, key, n, users in LINKS:
        query = LINK.format(label=label, rel=rel)
        writer.write(query, {"p": prefix, "key": key, "n": n, "users": users})
    writer.write(RINGS, {"p": prefix})
    return store, prefix


def _fingerprint(store: GraphStore, prefix: str) -> list[dict[str, Any]]:
    rows = store.read(FINGERPRINT, {"p": prefix})
    return sorted(rows, key=repr)


def _records(result: AnalystResult) -> list[dict[str, Any]]:
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def _run(store: GraphStore, name: str, **params: Any) -> list[dict[str, Any]]:
    result = analysts.run_investigation(store, name, params, timeout_s=TIMEOUT_S, row_cap=100)
    assert not result.truncated
    return _records(result)


# -- reads -----------------------------------------------------------------------------------------
def test_read_returns_rows_in_query_column_order(graph: tuple[GraphStore, str]) -> None:
    store, p = graph
    result = store.analyst_read(
        "MATCH (a:Account) WHERE a.id STARTS WITH $p RETURN a.id AS zeta, 1 AS alpha ORDER BY zeta",
        {"p": p},
        timeout_s=TIMEOUT_S,
        row_cap=100,
    )
    assert result.columns == ["zeta", "alpha"]  # FalkorDB's RETURN * would sort them
    ids = ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "b0"]
    assert [r[0] for r in result.rows] == [p + x for x in ids]
    assert result.engine == store.engine and not result.truncated and result.elapsed_ms >= 0


@pytest.mark.parametrize(("cap", "truncated"), [(3, True), (7, True), (8, False), (50, False)])
def test_row_cap_sets_truncated(graph: tuple[GraphStore, str], cap: int, truncated: bool) -> None:
    store, p = graph
    result = store.analyst_read(
        "MATCH (a:Account) WHERE a.id STARTS WITH $p RETURN a.id AS id ORDER BY id",
        {"p": p},
        timeout_s=TIMEOUT_S,
        row_cap=cap,
    )
    assert len(result.rows) == min(cap, 8)
    assert result.truncated is truncated


def test_graph_values_are_json_dicts_of_one_shape(graph: tuple[GraphStore, str]) -> None:
    store, p = graph
    result = store.analyst_read(
        "MATCH path = (a:Account {id: $a})-[r:USES_PHONE]->(ph:Phone) RETURN a, r, path",
        {"a": p + "a3"},
        timeout_s=TIMEOUT_S,
        row_cap=10,
    )
    node, rel, path = result.rows[0]
    assert set(node) == {"id", "labels", "properties"} and isinstance(node["id"], str)
    assert node["labels"] == ["Account"] and node["properties"]["id"] == p + "a3"
    assert set(rel) == {"id", "type", "start", "end", "properties"}
    assert rel["type"] == "USES_PHONE" and rel["start"] == node["id"] and rel["end"] is not None
    assert [n["labels"] for n in path["nodes"]] == [["Account"], ["Phone"]]
    assert [r["type"] for r in path["relationships"]] == ["USES_PHONE"]


def test_schema_procedure_runs(graph: tuple[GraphStore, str]) -> None:
    store, _ = graph
    result = analysts.run_query(store, "CALL db.labels()", None, timeout_s=TIMEOUT_S, row_cap=1000)
    assert "Account" in {row[0] for row in result.rows}


# -- writes: refused by the guard, and impossible without it ---------------------------------------
WRITES = [
    "CREATE (n:Account {id: $p + 'new'})",
    "MATCH (a:Account {id: $p + 'a1'}) SET a.risk = 1.0",
    "MATCH (a:Account {id: $p + 'a1'}) SET a:Banned",
    "MATCH (a:Account {id: $p + 'a1'}) REMOVE a.id",
    "MATCH (a:Account {id: $p + 'a1'}) DETACH DELETE a",
    "MATCH (a:Account {id: $p + 'a1'})-[r]->() DELETE r",
    "MERGE (n:Account {id: $p + 'merged'})",
    "MATCH (a:Account {id: $p + 'a1'}) "
    "CALL { WITH a CREATE (a)-[:FRIEND]->(:Account {id: $p + 'x'}) RETURN 1 AS one } RETURN one",
    "MATCH (a:Account) WHERE a.id STARTS WITH $p FOREACH (x IN [1] | SET a.touched = x)",
    "MATCH (a:Account {id: $p + 'a1'}) cReAtE (a)-[:FRIEND]->(:Account {id: $p + 'y'})",
]


@pytest.mark.parametrize("query", WRITES)
def test_write_is_refused_by_the_guard(graph: tuple[GraphStore, str], query: str) -> None:
    store, p = graph
    before = _fingerprint(store, p)
    with pytest.raises(Forbidden):
        analysts.run_query(store, query, {"p": p}, timeout_s=TIMEOUT_S, row_cap=10)
    assert _fingerprint(store, p) == before


@pytest.mark.parametrize("query", WRITES)
def test_write_fails_in_read_only_mode_without_the_guard(
    graph: tuple[GraphStore, str], query: str
) -> None:
    """The second layer alone: straight to the store, the engine's read-only mode refuses."""
    store, p = graph
    before = _fingerprint(store, p)
    with pytest.raises(Forbidden, match="refused by the engine"):
        store.analyst_read(query, {"p": p}, timeout_s=TIMEOUT_S, row_cap=10)
    assert _fingerprint(store, p) == before


@pytest.mark.parametrize(
    "query",
    [
        "CREATE INDEX FOR (n:Account) ON (n.risk)",
        "CALL db.createLabel('Sneaky')",  # Neo4j; FalkorDB has no such procedure: a bad query
        "CALL db.idx.fulltext.createNodeIndex('Account', 'id')",  # FalkorDB; unknown to Neo4j
        "CALL { MATCH (a:Account {id: $p + 'a1'}) SET a.x = 1 } IN TRANSACTIONS",
    ],
)
def test_schema_and_batch_writes_fail_without_the_guard(
    graph: tuple[GraphStore, str], query: str
) -> None:
    store, p = graph
    before = _fingerprint(store, p)
    with pytest.raises((Forbidden, BadQuery)):
        store.analyst_read(query, {"p": p}, timeout_s=TIMEOUT_S, row_cap=10)
    assert _fingerprint(store, p) == before


# -- bad queries -----------------------------------------------------------------------------------
def test_bad_cypher_is_a_bad_query_with_the_engines_message(graph: tuple[GraphStore, str]) -> None:
    store, _ = graph
    with pytest.raises(BadQuery) as info:
        analysts.run_query(store, "MATCH (n RETURN n", None, timeout_s=TIMEOUT_S, row_cap=10)
    assert "Invalid input" in info.value.message
    # The wrapper FalkorDB's row cap adds must not show: the error is about line 1.
    assert "line 2" not in info.value.message and "line: 2" not in info.value.message
    with pytest.raises(BadQuery):
        store.analyst_read("RETURN 1 / 0 AS x", None, timeout_s=TIMEOUT_S, row_cap=10)
    with pytest.raises(BadQuery):
        store.analyst_read("RETURN nosuchfunction(1)", None, timeout_s=TIMEOUT_S, row_cap=10)


def test_timeout_is_reported(graph: tuple[GraphStore, str]) -> None:
    store, _ = graph
    slow = (
        "UNWIND range(1, 20000) AS x UNWIND range(1, 20000) AS y "
        "WITH x, y WHERE x * y = -1 RETURN count(*) AS n"
    )
    with pytest.raises(QueryTimeout) as info:
        store.analyst_read(slow, None, timeout_s=0.3, row_cap=10)
    assert info.value.status_code == 422


# -- saved investigations --------------------------------------------------------------------------
def test_shared_device(graph: tuple[GraphStore, str]) -> None:
    store, p = graph
    rows = _run(store, "shared_device", account_id=p + "a1")
    assert [(r["account"], r["shared_devices"]) for r in rows] == [(p + "a2", 2), (p + "a3", 1)]
    assert sorted(rows[0]["devices"]) == [p + "d1", p + "d2"]
    assert _run(store, "shared_device", account_id=p + "a4") == []


def test_path_between(graph: tuple[GraphStore, str]) -> None:
    store, p = graph
    rows = _run(store, "path_between", from_account=p + "a1", to_account=p + "a4")
    assert rows[0]["length"] == 4
    steps = [(s["kind"], s["id"]) for s in rows[0]["steps"]]
    assert steps == [
        ("Account", p + "a1"),
        ("Device", p + "d1"),
        ("Account", p + "a3"),
        ("Phone", p + "p1"),
        ("Account", p + "a4"),
    ]
    # a1 to a5 is 6 relationships: beyond the default 4, within the hard cap.
    assert _run(store, "path_between", from_account=p + "a1", to_account=p + "a5") == []
    far = _run(store, "path_between", from_account=p + "a1", to_account=p + "a5", max_length=6)
    assert far[0]["length"] == 6
    # a7 is reachable only through the hub IP, which is not followed unless asked for.
    assert _run(store, "path_between", from_account=p + "a1", to_account=p + "a7") == []
    via_hub = _run(
        store, "path_between", from_account=p + "a1", to_account=p + "a7", max_sharing=5000
    )
    assert via_hub[0]["length"] == 2


def test_ring_neighbourhood(graph: tuple[GraphStore, str]) -> None:
    store, p = graph
    rows = _run(store, "ring_neighbourhood", ring_id=p + "r1")
    assert [(r["account"], r["hops"]) for r in rows] == [
        (p + "a1", 0),
        (p + "a2", 0),
        (p + "a3", 0),
        (p + "a4", 1),
        (p + "a5", 2),
    ]
    assert _run(store, "ring_neighbourhood", ring_id=p + "nope") == []


def test_banned_identifier_rings(graph: tuple[GraphStore, str]) -> None:
    store, p = graph
    rows = _run(store, "banned_identifier_rings", account_id=p + "b0")
    assert [(r["ring"], r["linked"], r["shared"]) for r in rows] == [
        (p + "r2", [p + "a6"], ["Card:" + p + "c2"])
    ]
    assert _run(store, "banned_identifier_rings", account_id=p + "a1") == []  # not banned


def test_investigation_parameters_are_checked(store: GraphStore) -> None:
    with pytest.raises(NotFound):
        analysts.run_investigation(store, "nope", {}, timeout_s=1, row_cap=1)
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "params.account_id"),
        ({"account_id": "a", "colour": "red"}, "params.colour"),
        ({"account_id": 7}, "params.account_id"),
        ({"account_id": "a", "limit": 0}, "params.limit"),
        ({"account_id": "a", "limit": True}, "params.limit"),
        ({"account_id": "a", "limit": 2.5}, "params.limit"),
    ]
    for params, field in cases:
        with pytest.raises(Invalid) as info:
            analysts.run_investigation(store, "shared_device", params, timeout_s=1, row_cap=1)
        assert field in [problem.field for problem in info.value.problems], params
