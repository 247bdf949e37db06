UNWIND $rows AS r
MATCH (a:Account {id: r.a})
MERGE (t:Target {id: r.target})
MERGE (a)-[e:ENGAGED {action: r.action}]->(t)
  ON CREATE SET e.first_seen = r.first, e.last_seen = r.last, e.count = r.n
  ON MATCH SET e.count = e.count + r.n,
               e.first_seen = CASE WHEN r.first < e.first_seen THEN r.first ELSE e.first_seen END,
               e.last_seen = CASE WHEN r.last > e.last_seen THEN r.last ELSE e.last_seen END
