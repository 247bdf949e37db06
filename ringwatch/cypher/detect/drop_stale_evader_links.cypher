UNWIND $rows AS id
MATCH (a:Account {id: id})-[c:CONTINUES]->(:Account)
WHERE c.run <> $run
DELETE c
