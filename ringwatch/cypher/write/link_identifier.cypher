// __LABEL__ and __REL__ come from ringwatch.graph.labels, never from input.
UNWIND $rows AS r
MATCH (a:Account {id: r.a})
MERGE (i:__LABEL__ {key: r.key})
  ON CREATE SET i.accounts = 0
MERGE (a)-[e:__REL__]->(i)
  ON CREATE SET e.first_seen = r.first, e.last_seen = r.last, e.count = r.n,
                i.accounts = i.accounts + 1
  ON MATCH SET e.count = e.count + r.n,
               e.first_seen = CASE WHEN r.first < e.first_seen THEN r.first ELSE e.first_seen END,
               e.last_seen = CASE WHEN r.last > e.last_seen THEN r.last ELSE e.last_seen END
