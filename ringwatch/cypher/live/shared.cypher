// __LABEL__ / __REL__ from ringwatch.graph.labels. Who else uses these identifiers, how many of
// them are banned, and which rings they are in. Hubs over $cap are counted but not expanded.
UNWIND $keys AS key
MATCH (i:__LABEL__ {key: key})
OPTIONAL MATCH (i)<-[:__REL__]-(b:Account)
WHERE i.accounts <= $cap AND b.id <> $account
OPTIONAL MATCH (b)-[:MEMBER_OF]->(g:Ring {status: 'active'})
RETURN i.key AS key, i.accounts AS accounts,
       collect(DISTINCT CASE WHEN b.banned_at IS NOT NULL THEN b.id END) AS banned,
       collect(DISTINCT [g.id, g.verdict, g.size, g.score]) AS rings
