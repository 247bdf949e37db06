MATCH (a:Account) WHERE a.risk > 0
RETURN a.id AS account_id, a.risk AS score, a.ring_id AS ring_id
ORDER BY account_id
