UNWIND $rows AS r
MATCH (a:Account {id: r.a})
MATCH (g:Ring {id: r.ring})
MERGE (a)-[m:MEMBER_OF]->(g)
SET m.run = $run
