MATCH (a:Account {id: $id})
OPTIONAL MATCH (a)-[:MEMBER_OF]->(g:Ring)
WITH a, collect({id: g.id, verdict: g.verdict, score: g.score, size: g.size, status: g.status}) AS rings
OPTIONAL MATCH (a)-[c:CONTINUES]->(b:Account)
WITH a, rings, c, b ORDER BY c.rank
RETURN a.id AS id, a.created_at AS created_at, a.first_seen AS first_seen,
       a.last_seen AS last_seen, a.events AS events, a.status AS status,
       a.banned_at AS banned_at, a.country AS country, a.risk AS risk,
       a.evader_score AS evader_score, a.ring_id AS ring_id, rings,
       a.sybil_score AS sybil_score, a.engagement_score AS engagement_score,
       collect({banned: b.id, score: c.score, rank: c.rank, evidence: c.evidence}) AS evader_matches
