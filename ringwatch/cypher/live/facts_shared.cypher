// One CALL { } section of the composed live-facts query (CypherStore.live_facts) per identifier
// kind; __LABEL__ / __REL__ from ringwatch.graph.labels. The identifiers: $keys, plus those of
// this kind the account uses when $own. Who else uses them, which of those are banned, which
// rings they are in; hubs over $cap are counted but not expanded. One row whatever it finds
// (an aggregate with no grouping key).
OPTIONAL MATCH (:Account {id: $account})-[:__REL__]->(mine:__LABEL__) WHERE $own
WITH $keys + collect(mine.key) AS wanted
UNWIND wanted AS key
WITH DISTINCT key
MATCH (i:__LABEL__ {key: key})
OPTIONAL MATCH (i)<-[:__REL__]-(b:Account)
WHERE i.accounts <= $cap AND b.id <> $account
OPTIONAL MATCH (b)-[:MEMBER_OF]->(g:Ring {status: 'active'})
WITH i,
     collect(DISTINCT CASE WHEN b.banned_at IS NOT NULL THEN b.id END) AS banned,
     collect(DISTINCT [g.id, g.verdict, g.size, g.score]) AS rings
RETURN collect({key: i.key, accounts: i.accounts, banned: banned, rings: rings}) AS hits
