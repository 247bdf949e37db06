// Active rings touching the given accounts, with all their members (incremental runs).
// `IN $ids`, not UNWIND: FalkorDB would scan every Ring per id (see read/expand_scope).
MATCH (a0:Account) WHERE a0.id IN $ids
MATCH (a0)-[:MEMBER_OF]->(g:Ring {status: 'active'})
WITH DISTINCT g
MATCH (a:Account)-[:MEMBER_OF]->(g)
// One row of (ring, member) columns: a scope of 30k accounts has ~75k such pairs, which the
// client parsed one record at a time (1.8 s at 100k accounts). The internal id gives
// FalkorDB's columnar parse its row count.
RETURN collect(id(a)) AS node, collect(g.id) AS ring, collect(a.id) AS account
