MATCH (a:Account)-[:MEMBER_OF]->(g:Ring {status: 'active'})
WITH g, a ORDER BY a.id
RETURN g.id AS ring_id, g.verdict AS verdict, g.score AS score, g.evidence AS evidence,
       collect(a.id) AS members
ORDER BY ring_id
