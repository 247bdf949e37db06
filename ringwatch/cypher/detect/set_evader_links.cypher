UNWIND $rows AS r
MATCH (a:Account {id: r.a})
MATCH (b:Account {id: r.banned})
MERGE (a)-[c:CONTINUES]->(b)
SET c.score = r.score, c.rank = r.rank, c.evidence = r.evidence, c.run = $run
