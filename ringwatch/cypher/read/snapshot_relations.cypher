// __REL__ from ringwatch.graph.labels.
UNWIND $ids AS id
MATCH (a:Account {id: id})-[e:__REL__]->(o:Account)
RETURN a.id AS a, o.id AS b
