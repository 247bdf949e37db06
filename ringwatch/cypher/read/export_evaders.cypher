MATCH (a:Account)-[c:CONTINUES]->(b:Account)
WITH a, c, b ORDER BY a.id, c.rank
RETURN a.id AS account_id, collect(b.id) AS matched, max(c.score) AS score
ORDER BY account_id
