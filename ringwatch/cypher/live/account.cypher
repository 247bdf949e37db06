// The account's own state and its identifiers (keys by relationship type), for a decision.
MATCH (a:Account {id: $account})
OPTIONAL MATCH (a)-[:MEMBER_OF]->(g:Ring {status: 'active'})
WITH a, g ORDER BY g.score DESC
WITH a, collect(g)[0] AS g
OPTIONAL MATCH (a)-[r:USES_DEVICE|USES_PHONE|USES_CARD|USES_EMAIL|USES_SUBNET|USES_EMAIL_DOMAIN]->(i)
RETURN a.created_at AS created_at, a.birthdate AS birthdate, a.banned_at AS banned_at,
       a.status AS status, a.risk AS risk, a.evader_score AS evader_score,
       g.id AS ring_id, g.verdict AS ring_verdict, g.size AS ring_size, g.score AS ring_score,
       collect([type(r), i.key, i.accounts]) AS identifiers
