MATCH (:Account {id: $id})-[:ENFORCED]->(x:Enforcement)
RETURN x.event_id AS event_id, x.action AS action, x.reason AS reason, x.actor AS actor, x.ts AS ts
ORDER BY x.ts DESC
LIMIT $limit
