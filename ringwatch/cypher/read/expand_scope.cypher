// __LABEL__ / __REL__ from ringwatch.graph.labels. Accounts one shared identifier away, through
// identifiers rare enough to link accounts in detection (more accounts than $cap: a hub).
UNWIND $ids AS id
MATCH (:Account {id: id})-[:__REL__]->(i:__LABEL__)
WHERE i.accounts <= $cap
MATCH (i)<-[:__REL__]-(b:Account)
RETURN DISTINCT b.id AS id
