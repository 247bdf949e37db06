// The last CALL { } section of the composed live-facts query (CypherStore.live_facts);
// __LABEL__ / __REL__ from ringwatch.graph.labels (the subnet's). How many accounts use $subnet
// (may be null) and, when $own, each subnet the account uses: [key, accounts] pairs, one row.
OPTIONAL MATCH (:Account {id: $account})-[:__REL__]->(mine:__LABEL__) WHERE $own
WITH [$subnet] + collect(mine.key) AS wanted
UNWIND wanted AS key
WITH DISTINCT key
MATCH (s:__LABEL__ {key: key})
RETURN collect([s.key, s.accounts]) AS subnets
