// The head of the composed live-facts query (CypherStore.live_facts): the account's own state
// and identifiers as ONE map, null when there is no such account.
// Always exactly one row, for the CALL { } sections that follow. Used with $own true only.
OPTIONAL MATCH (a:Account {id: $account})
OPTIONAL MATCH (a)-[:MEMBER_OF]->(g:Ring {status: 'active'})
WITH a, g ORDER BY g.score DESC
WITH a, collect(g)[0] AS g
OPTIONAL MATCH (a)-[r:USES_DEVICE|USES_PHONE|USES_CARD|USES_EMAIL|USES_SUBNET|USES_EMAIL_DOMAIN]->(i)
// Newest first: a decision without an event of its own uses the account's latest subnet.
WITH a, g, r, i ORDER BY r.last_seen DESC, i.key
WITH a, g, collect([type(r), i.key, i.accounts]) AS identifiers
WITH CASE WHEN a IS NULL THEN null ELSE {
       created_at: a.created_at, birthdate: a.birthdate, banned_at: a.banned_at,
       status: a.status, risk: a.risk, evader_score: a.evader_score,
       sybil_score: a.sybil_score, engagement_score: a.engagement_score,
       ring_id: g.id, ring_verdict: g.verdict, ring_size: g.size, ring_score: g.score,
       identifiers: identifiers
     } END AS account
