// __LABEL__ / __REL__ from ringwatch.graph.labels; one page of accounts' links of one kind.
UNWIND $ids AS id
MATCH (a:Account {id: id})-[e:__REL__]->(i:__LABEL__)
RETURN a.id AS a, i.key AS key, e.count AS n, e.first_seen AS first
