// __LABEL__ / __REL__ from ringwatch.graph.labels. Accounts one shared identifier away, through
// identifiers rare enough to link accounts in detection (more accounts than $cap: a hub).
// `IN $ids` rather than UNWIND: FalkorDB plans `UNWIND … MATCH (:Account {id: id})-->(i) WHERE
// i.…` from a label scan of the identifiers, once per id (13-22 s per kind for 2,000 ids on a
// 6,000-account graph); both engines seek the account index for `IN`.
MATCH (a:Account) WHERE a.id IN $ids
MATCH (a)-[:__REL__]->(i:__LABEL__)
WHERE i.accounts <= $cap
MATCH (i)<-[:__REL__]-(b:Account)
// One row of columns; the internal id only gives FalkorDB's columnar parse its row count.
WITH DISTINCT b
RETURN collect(id(b)) AS node, collect(b.id) AS id
