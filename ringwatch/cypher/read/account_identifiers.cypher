// __LABEL__ / __REL__ from ringwatch.graph.labels: one account's identifiers of one kind.
MATCH (:Account {id: $id})-[e:__REL__]->(i:__LABEL__)
RETURN i.key AS key, i.accounts AS accounts, e.count AS count, e.first_seen AS first_seen,
       e.last_seen AS last_seen
ORDER BY i.accounts DESC, i.key
LIMIT $limit
