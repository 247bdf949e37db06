// __REL__ from ringwatch.graph.labels: behavioural links (invites, friends, follows) between two
// members of one ring.
MATCH (g:Ring {id: $id})<-[:MEMBER_OF]-(a:Account)-[e:__REL__]->(b:Account)-[:MEMBER_OF]->(g)
RETURN a.id AS source, b.id AS target, type(e) AS rel, e.first_seen AS first_seen
LIMIT $limit
