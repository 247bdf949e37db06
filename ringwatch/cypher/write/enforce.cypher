// Rows arrive sorted by time, so the newest enforcement of a batch decides the account's state;
// an older, late-arriving one is kept in history without overriding it.
UNWIND $rows AS r
MATCH (a:Account {id: r.a})
MERGE (x:Enforcement {event_id: r.event_id})
  ON CREATE SET x.action = r.action, x.reason = r.reason, x.actor = r.actor, x.ts = r.ts
MERGE (a)-[:ENFORCED]->(x)
WITH a, r
WHERE a.status_ts IS NULL OR r.ts >= a.status_ts
SET a.status = r.action,
    a.status_ts = r.ts,
    a.banned_at = CASE r.action WHEN 'ban' THEN r.ts WHEN 'clear' THEN null ELSE a.banned_at END
