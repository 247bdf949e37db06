UNWIND $ids AS id
MATCH (a:Account {id: id})-[e:ENGAGED]->(t:Target)
RETURN a.id AS a, t.id AS target, e.action AS action, e.first_seen AS first
