MATCH (a:Account) WHERE a.risk > 0 OR a.sybil_score > 0.5 OR a.engagement_score > 0
RETURN a.id AS account_id, a.risk AS score, a.ring_id AS ring_id, a.sybil_score AS sybil_score,
       a.engagement_score AS engagement_score
ORDER BY account_id
