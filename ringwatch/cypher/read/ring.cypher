MATCH (g:Ring {id: $id})
OPTIONAL MATCH (a:Account)-[:MEMBER_OF]->(g)
WITH g, a ORDER BY a.id
RETURN g.id AS id, g.verdict AS verdict, g.score AS score, g.size AS size, g.status AS status,
       g.evidence AS evidence, g.history AS history, g.created_at AS created_at,
       g.updated_at AS updated_at,
       collect({id: a.id, risk: a.risk, status: a.status, banned_at: a.banned_at,
               created_at: a.created_at}) AS members
