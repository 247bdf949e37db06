// Active rings touching the given accounts, with all their members (incremental runs).
// `IN $ids`, not UNWIND: FalkorDB would scan every Ring per id (see read/expand_scope).
MATCH (a0:Account) WHERE a0.id IN $ids
MATCH (a0)-[:MEMBER_OF]->(g:Ring {status: 'active'})
WITH DISTINCT g
MATCH (a:Account)-[:MEMBER_OF]->(g)
RETURN g.id AS ring, a.id AS account
