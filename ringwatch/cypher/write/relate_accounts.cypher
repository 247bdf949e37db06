// __REL__ from ringwatch.graph.labels. The other account may not have signed up (yet): it is
// created bare and fills in when its own events arrive.
UNWIND $rows AS r
MERGE (a:Account {id: r.a})
MERGE (o:Account {id: r.b})
MERGE (a)-[e:__REL__]->(o)
  ON CREATE SET e.first_seen = r.first, e.last_seen = r.last, e.count = r.n
  ON MATCH SET e.count = e.count + r.n,
               e.first_seen = CASE WHEN r.first < e.first_seen THEN r.first ELSE e.first_seen END,
               e.last_seen = CASE WHEN r.last > e.last_seen THEN r.last ELSE e.last_seen END
