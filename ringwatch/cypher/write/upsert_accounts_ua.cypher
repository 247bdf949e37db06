// The accounts of a batch whose only profile field is the user agent and that did not sign up
// in it (an account's logins): upsert_accounts' updates for that one field, without the
// other fields' parameters and tests.
UNWIND $rows AS r
MERGE (a:Account {id: r.id})
  ON CREATE SET a.first_seen = r.first, a.last_seen = r.last, a.events = r.n,
                a.ua = r.ua, a.ua_ts = r.ua_ts
  ON MATCH SET a.first_seen = CASE WHEN a.first_seen IS NULL OR r.first < a.first_seen THEN r.first ELSE a.first_seen END,
               a.last_seen = CASE WHEN a.last_seen IS NULL OR r.last > a.last_seen THEN r.last ELSE a.last_seen END,
               a.events = coalesce(a.events, 0) + r.n
WITH a, r
WHERE a.ua_ts IS NULL OR r.ua_ts > a.ua_ts OR (r.ua_ts = a.ua_ts AND r.ua > a.ua)
SET a.ua = r.ua, a.ua_ts = r.ua_ts
