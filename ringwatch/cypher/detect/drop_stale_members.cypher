// Memberships of the given accounts that this run did not confirm.
UNWIND $rows AS id
MATCH (a:Account {id: id})-[m:MEMBER_OF]->(:Ring)
WHERE m.run <> $run
DELETE m
