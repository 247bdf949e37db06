// Active rings touching the given accounts, with all their members (incremental runs).
UNWIND $ids AS id
MATCH (:Account {id: id})-[:MEMBER_OF]->(g:Ring {status: 'active'})
WITH DISTINCT g
MATCH (a:Account)-[:MEMBER_OF]->(g)
RETURN g.id AS ring, a.id AS account
