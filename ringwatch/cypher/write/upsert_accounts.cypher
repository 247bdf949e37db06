// Every update commutes, so batches may commit in any order (concurrent workers): counts add,
// times take their min or max, and each profile field keeps its newest value by its own time
// (`<field>_ts`; ties go to the greater value, as in ringwatch.graph.rows).
// A new account takes the row as it is; an existing one gets each profile field only where the
// row's is newer, in a FOREACH over [1] or []: a field left as it was is not written at all
// (the engine's CPU for these rows fell by a third against SET x = CASE ... ELSE x END on every
// field of every row, docs/performance.md "Ingest end to end").
UNWIND $rows AS r
MERGE (a:Account {id: r.id})
  ON CREATE SET a.first_seen = r.first, a.last_seen = r.last, a.events = r.n, a.created_at = r.created,
                a.country = r.country, a.country_ts = r.country_ts,
                a.city = r.city, a.city_ts = r.city_ts,
                a.birthdate = r.birthdate, a.birthdate_ts = r.birthdate_ts,
                a.name_sketch = r.name_sketch, a.name_sketch_ts = r.name_sketch_ts,
                a.email_sketch = r.email_sketch, a.email_sketch_ts = r.email_sketch_ts,
                a.ua = r.ua, a.ua_ts = r.ua_ts
  ON MATCH SET a.first_seen = CASE WHEN a.first_seen IS NULL OR r.first < a.first_seen THEN r.first ELSE a.first_seen END,
               a.last_seen = CASE WHEN a.last_seen IS NULL OR r.last > a.last_seen THEN r.last ELSE a.last_seen END,
               a.events = coalesce(a.events, 0) + r.n,
               a.created_at = CASE
                 WHEN r.created IS NULL THEN a.created_at
                 WHEN a.created_at IS NULL OR r.created < a.created_at THEN r.created
                 ELSE a.created_at END
FOREACH (_ IN CASE WHEN r.country_ts IS NOT NULL AND (a.country_ts IS NULL OR r.country_ts > a.country_ts
    OR (r.country_ts = a.country_ts AND r.country > a.country)) THEN [1] ELSE [] END |
  SET a.country = r.country, a.country_ts = r.country_ts)
FOREACH (_ IN CASE WHEN r.city_ts IS NOT NULL AND (a.city_ts IS NULL OR r.city_ts > a.city_ts
    OR (r.city_ts = a.city_ts AND r.city > a.city)) THEN [1] ELSE [] END |
  SET a.city = r.city, a.city_ts = r.city_ts)
FOREACH (_ IN CASE WHEN r.birthdate_ts IS NOT NULL AND (a.birthdate_ts IS NULL OR r.birthdate_ts > a.birthdate_ts
    OR (r.birthdate_ts = a.birthdate_ts AND r.birthdate > a.birthdate)) THEN [1] ELSE [] END |
  SET a.birthdate = r.birthdate, a.birthdate_ts = r.birthdate_ts)
FOREACH (_ IN CASE WHEN r.name_sketch_ts IS NOT NULL AND (a.name_sketch_ts IS NULL OR r.name_sketch_ts > a.name_sketch_ts
    OR (r.name_sketch_ts = a.name_sketch_ts AND r.name_sketch > a.name_sketch)) THEN [1] ELSE [] END |
  SET a.name_sketch = r.name_sketch, a.name_sketch_ts = r.name_sketch_ts)
FOREACH (_ IN CASE WHEN r.email_sketch_ts IS NOT NULL AND (a.email_sketch_ts IS NULL OR r.email_sketch_ts > a.email_sketch_ts
    OR (r.email_sketch_ts = a.email_sketch_ts AND r.email_sketch > a.email_sketch)) THEN [1] ELSE [] END |
  SET a.email_sketch = r.email_sketch, a.email_sketch_ts = r.email_sketch_ts)
FOREACH (_ IN CASE WHEN r.ua_ts IS NOT NULL AND (a.ua_ts IS NULL OR r.ua_ts > a.ua_ts
    OR (r.ua_ts = a.ua_ts AND r.ua > a.ua)) THEN [1] ELSE [] END |
  SET a.ua = r.ua, a.ua_ts = r.ua_ts)
