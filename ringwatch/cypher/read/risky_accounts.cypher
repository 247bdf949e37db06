MATCH (a:Account) WHERE a.risk > 0 RETURN a.id AS id, a.risk AS risk, a.ring_id AS ring_id
