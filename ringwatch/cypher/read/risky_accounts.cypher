MATCH (a:Account) WHERE a.risk > 0 RETURN a.id AS id
