// __LABEL__ / __REL__ from ringwatch.graph.labels: a ring's members' identifiers of one kind that
// more than one account uses (a private identifier ties nothing together, so the picture skips it).
MATCH (:Ring {id: $id})<-[:MEMBER_OF]-(a:Account)-[e:__REL__]->(i:__LABEL__)
WHERE i.accounts > 1
RETURN a.id AS account, i.key AS key, i.accounts AS accounts, e.first_seen AS first_seen
ORDER BY i.accounts DESC, i.key, a.id
LIMIT $limit
