UNWIND $rows AS r
MERGE (a:Account {id: r.id})
  ON CREATE SET a.first_seen = r.first, a.last_seen = r.last, a.events = 0
SET a.first_seen = CASE WHEN a.first_seen IS NULL OR r.first < a.first_seen THEN r.first ELSE a.first_seen END,
    a.last_seen = CASE WHEN a.last_seen IS NULL OR r.last > a.last_seen THEN r.last ELSE a.last_seen END,
    a.events = coalesce(a.events, 0) + r.n,
    a.created_at = CASE
      WHEN r.created IS NULL THEN a.created_at
      WHEN a.created_at IS NULL OR r.created < a.created_at THEN r.created
      ELSE a.created_at END
WITH a, r
WHERE r.profile_ts IS NOT NULL AND (a.profile_ts IS NULL OR r.profile_ts >= a.profile_ts)
SET a.profile_ts = r.profile_ts,
    a.country = coalesce(r.country, a.country),
    a.city = coalesce(r.city, a.city),
    a.birthdate = coalesce(r.birthdate, a.birthdate),
    a.name_sketch = coalesce(r.name_sketch, a.name_sketch),
    a.email_sketch = coalesce(r.email_sketch, a.email_sketch),
    a.ua = coalesce(r.ua, a.ua)
