"""The read-only guard, on text alone: what it refuses, what it lets through, and why."""

from __future__ import annotations

import pytest

from ringwatch.errors import BadQuery, Forbidden
from ringwatch.graph.readonly import check_read_only, projection, tokenize
from ringwatch.services.analysts import catalogue

REFUSED = [
    # (query, the clause the refusal must name)
    ("CREATE (n:Account {id: 'x'})", "CREATE"),
    ("MATCH (n) SET n.x = 1", "SET"),
    ("MATCH (n) SET n:Banned", "SET"),
    ("MATCH (n) DELETE n", "DELETE"),
    ("MATCH (n) DETACH\nDELETE n", "DETACH DELETE"),
    ("MATCH (n) DETACH /* gap */ DELETE n", "DETACH DELETE"),
    ("MATCH (n) NODETACH DELETE n", "NODETACH"),
    ("MATCH (n) REMOVE n.x", "REMOVE"),
    ("MERGE (n:Account {id: 'x'})", "MERGE"),
    ("merge (n:Account {id: 'x'})", "MERGE"),
    ("cReAtE (n)", "CREATE"),
    ("INSERT (n:Account)", "INSERT"),
    ("MATCH (n) FOREACH (x IN [1] | SET n.y = x)", "FOREACH"),
    ("LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row", "LOAD CSV"),
    ("load\tcsv WITH HEADERS FROM 'https://example.com/x.csv' AS r RETURN r", "LOAD CSV"),
    ("CALL { MATCH (n) CREATE (m:Copy) RETURN m } RETURN m", "CREATE"),
    ("MATCH (a) CALL { WITH a MERGE (a)-[:X]->(:Y) } RETURN a", "MERGE"),
    ("CALL (a) { SET a.x = 1 } RETURN 1", "SET"),
    ("CALL { MATCH (n) RETURN n } IN TRANSACTIONS RETURN 1", "TRANSACTIONS"),
    ("MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 10 ROWS", "DETACH DELETE"),
    ("USING PERIODIC COMMIT LOAD CSV FROM 'x' AS r RETURN r", "PERIODIC"),
    # procedures: an allowlist, so every namespace that writes is refused
    ("CALL apoc.create.node(['X'], {}) YIELD node RETURN node", "CALL apoc.create.node"),
    ("CALL apoc.merge.node(['X'], {id: 1})", "CALL apoc.merge.node"),
    ("CALL apoc.refactor.mergeNodes([])", "CALL apoc.refactor.mergeNodes"),
    ("CALL apoc.periodic.iterate('MATCH (n) RETURN n', 'DELETE n', {})", "CALL apoc.periodic"),
    ("CALL apoc.load.json('file:///etc/passwd')", "CALL apoc.load.json"),
    ("CALL db.createLabel('X')", "CALL db.createLabel"),
    ("CALL db.create.setNodeVectorProperty(n, 'v', [1])", "CALL db.create"),
    ("CALL dbms.security.createUser('x', 'y')", "CALL dbms.security.createUser"),
    ("CALL dbms.components()", "CALL dbms.components"),
    ("CALL gds.pageRank.write('g', {})", "CALL gds.pageRank.write"),
    ("CALL gds.louvain.mutate('g', {})", "CALL gds.louvain.mutate"),
    ("CALL tx.setMetaData({a: 1})", "CALL tx.setMetaData"),
    ("CALL db.idx.fulltext.createNodeIndex('Account', 'id')", "CALL db.idx"),
    ("CALL algo.BFS(n, 3, 'X')", "CALL algo.BFS"),
    ("CALL `apoc`.`create`.`node`(['X'], {})", "CALL apoc.create.node"),
    ("CALL\napoc . create . node(['X'], {})", "CALL apoc.create.node"),
    ("OPTIONAL CALL apoc.create.node(['X'], {})", "CALL apoc.create.node"),
    ("CALL", "CALL"),
    ("MATCH (n) CALL 1", "CALL"),
    # functions that run Cypher or reach outside the graph
    ("RETURN apoc.cypher.runFirstColumnSingle('CREATE (n)', {})", "apoc.cypher"),
    ("RETURN APOC.util.md5(['x'])", "APOC.util.md5"),
    # admin commands
    ("CREATE INDEX FOR (n:Account) ON (n.email)", "CREATE"),
    ("DROP INDEX account_id", "DROP"),
    ("CREATE CONSTRAINT FOR (n:X) REQUIRE n.id IS UNIQUE", "CREATE"),
    ("DROP CONSTRAINT c", "DROP"),
    ("CREATE DATABASE evil", "CREATE"),
    ("STOP DATABASE neo4j", "STOP"),
    ("START DATABASE neo4j", "START"),
    ("CREATE USER mallory SET PASSWORD 'x'", "CREATE"),
    ("ALTER USER neo4j SET PASSWORD 'x'", "ALTER"),
    ("RENAME ROLE a TO b", "RENAME"),
    ("GRANT ROLE admin TO mallory", "GRANT"),
    ("DENY READ {*} ON GRAPH * TO reader", "DENY"),
    ("REVOKE ROLE admin FROM neo4j", "REVOKE"),
    ("TERMINATE TRANSACTIONS 'neo4j-transaction-1'", "TERMINATE"),
    ("SHOW USERS", "SHOW USERS"),
    ("SHOW DATABASES", "SHOW DATABASES"),
    ("SHOW TRANSACTIONS", "SHOW TRANSACTIONS"),
    ("SHOW PRIVILEGES", "SHOW PRIVILEGES"),
    ("USE system SHOW USERS", "USE"),
    ("USE neo4j MATCH (n) RETURN n", "USE"),
    ("MATCH (n) CALL { USE other MATCH (m) RETURN m } RETURN n", "USE"),
    ("EXPLAIN MATCH (n) RETURN n", "EXPLAIN"),
    ("PROFILE MATCH (n) RETURN n", "PROFILE"),
    ("CYPHER runtime=slotted MATCH (n) RETURN n", "CYPHER"),
    # more than one statement
    ("MATCH (n) RETURN n; CREATE (m)", "';'"),
    ("MATCH (n) RETURN n;", "';'"),
    ("MATCH (n) RETURN n ;\nMATCH (m) RETURN m", "';'"),
    # hiding places that hide nothing
    ("MATCH (n) /* harmless */ SET n.x = 1", "SET"),
    ("// a comment\nCREATE (n)", "CREATE"),
    ("MATCH (n) RETURN n // comment\r\nUNION MATCH (m) SET m.x = 1 RETURN m", "SET"),
    ("MATCH (n) RETURN n // a line ending the engine may not know\u2028CREATE (m)", "CREATE"),
    ("RETURN 'it\\'s' AS s CREATE (n)", "CREATE"),
    ('RETURN "a \\" quote" AS s, 1 AS x DELETE n', "DELETE"),
    ("RETURN `a `` tick` AS s MERGE (n)", "MERGE"),
    ("MATCH (n)\u00a0SET\u00a0n.x = 1", "SET"),
    ("MATCH (n)\u3000DETACH\u2003DELETE\u2009n", "DETACH DELETE"),
    ("MATCH (n)\u2028SET n.x = 1", "SET"),
    ("\ufeffCREATE (n)", ""),  # a BOM: refused as a character, before any keyword
    ("\uff23\uff32\uff25\uff21\uff34\uff25 (n)", "CREATE"),  # fullwidth: NFKC folds to CREATE
    ("RETURN 1.CREATE (n)", "CREATE"),  # `1.` may be a number: CREATE is not a property here
    ("RETURN 1CREATE (n)", "CREATE"),
    ("MATCH (n) WHERE n:Foo REMOVE n:Foo", "REMOVE"),
    ("MATCH (set) RETURN set", "SET"),
    # After `|` a word is not taken for a name (FOREACH (x IN l | SET ...)): backtick it.
    (
        "MATCH (n)-[:MERGE|CREATE]->(m) RETURN m",
        "CREATE",
    ),  # a keyword as a variable: refused, backtick it instead
]


@pytest.mark.parametrize(("query", "clause"), REFUSED)
def test_refused(query: str, clause: str) -> None:
    with pytest.raises((Forbidden, BadQuery)) as info:
        check_read_only(query)
    if clause:
        assert isinstance(info.value, Forbidden), info.value.message
        assert clause.lower() in info.value.message.lower()
        problem = info.value.problems[0]
        assert problem.field == "query"
        assert "line" in problem.reason


ALLOWED = [
    "MATCH (n) RETURN n",
    "MATCH (a:Account {id: $id})-[:USES_DEVICE]->(d) RETURN d.key AS key LIMIT 10",
    "MATCH (n:`merge`) RETURN n",  # a backticked label is a name, not a clause
    "MATCH (n:`CREATE`)-[r:`DELETE`]->(m) RETURN r.`set` AS s",
    "MATCH (n) RETURN 'CREATE (m)' AS s",
    'MATCH (n) RETURN "MATCH (m) DETACH DELETE m" AS s',
    "MATCH (n) RETURN 'it\\'s SET' AS s",
    "MATCH (n) // DELETE n\nRETURN n",
    "MATCH (n) /* MERGE (m) ; CREATE (x) */ RETURN n",
    "MATCH (n) RETURN n.create, n.set, n.delete, n.merge, n.load",
    "MATCH (n)-[:MERGE|`CREATE`]->(m) RETURN m",  # relationship types spelled like keywords
    "MATCH (n:Set) RETURN n",
    "MATCH (n) WHERE n.name STARTS WITH 'a' RETURN n",
    "MATCH (n) WHERE n.x IS NOT NULL RETURN count(n) AS c ORDER BY c DESC SKIP 1 LIMIT 2",
    "MATCH (n) RETURN $create AS p, $`set` AS q",
    "CALL db.labels()",
    "CALL db.labels() YIELD label RETURN label",
    "CALL DB.LABELS()",
    "CALL db.relationshipTypes()",
    "CALL db.propertyKeys()",
    "CALL db.schema.visualization()",
    "CALL db.indexes()",
    "CALL db.constraints()",
    "CALL `db`.`labels`()",
    "CALL { MATCH (n) RETURN n } RETURN n",
    "MATCH (a) CALL { WITH a MATCH (a)-->(b) RETURN b } RETURN a, b",
    "MATCH (a) CALL (a) { MATCH (a)-->(b) RETURN b } RETURN a, b",
    "MATCH (a) WHERE EXISTS { MATCH (a)-->() } RETURN a",
    "MATCH (a) RETURN COUNT { (a)-->() } AS degree",
    "MATCH (a) RETURN a UNION MATCH (b) RETURN b AS a",
    "SHOW INDEXES",
    "SHOW RANGE INDEXES YIELD name RETURN name",
    "SHOW CONSTRAINTS",
    "WITH point({x: 1, y: 2}) AS p RETURN point.distance(p, p) AS d",
    "MATCH p = (a)-[*1..3]-(b) RETURN p",
    "MATCH (a)\u00a0RETURN\u3000a",  # unicode whitespace is whitespace
    "MATCH (ñame) RETURN ñame",
    "RETURN 1.5e3 AS x, .5 AS y, 0x1F AS z",
]


@pytest.mark.parametrize("query", ALLOWED)
def test_allowed(query: str) -> None:
    check_read_only(query)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "   ",
        "// only a comment",
        "RETURN 'unterminated",
        "RETURN `open",
        "/* open",
        "RETURN \u200b1",
    ],
)
def test_unlexable_or_empty_is_a_bad_query(query: str) -> None:
    with pytest.raises(BadQuery):
        check_read_only(query)


def test_saved_investigations_pass_the_guard() -> None:
    assert catalogue()
    for inv in catalogue().values():
        check_read_only(inv.query)


def test_tokens_carry_positions() -> None:
    tokens = tokenize("MATCH (n)\n  SET n.x = 'a;b'")
    set_token = next(t for t in tokens if t.word == "SET")
    assert (set_token.line, set_token.column) == (2, 3)
    assert any(t.text == "'a;b'" for t in tokens)


def test_projection_reads_the_final_return() -> None:
    shape = projection("MATCH (a) RETURN a.i  +  1, toUpper( 'x' ) , a.i AS `we ird` ORDER BY a")
    assert shape.returns and shape.columns == ["a.i  +  1", "toUpper( 'x' )", "we ird"]
    assert projection(
        "MATCH (a) RETURN DISTINCT a.x AS x UNION MATCH (b) RETURN b.x AS x"
    ).columns == ["x"]
    assert projection("MATCH (a) RETURN *").columns is None
    assert projection("CALL { MATCH (a) RETURN a } RETURN count(*)").columns == ["count(*)"]
    assert not projection("CALL db.labels()").returns
