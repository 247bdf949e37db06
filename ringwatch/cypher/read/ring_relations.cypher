// __REL__ from ringwatch.graph.labels: behavioural links (invites, friends, follows) among a
// ring's members, given by id. (On FalkorDB, UNWIND with a per-row lookup took seconds for a
// 500-member ring; one MATCH filtered by IN takes milliseconds.)
MATCH (a:Account)-[e:__REL__]->(b:Account)
WHERE a.id IN $ids AND b.id IN $ids
RETURN a.id AS source, b.id AS target, type(e) AS rel, e.first_seen AS first_seen
LIMIT $limit
