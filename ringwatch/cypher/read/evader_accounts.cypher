MATCH (a:Account)-[:CONTINUES]->(:Account) RETURN DISTINCT a.id AS id
