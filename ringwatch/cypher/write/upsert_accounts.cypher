// Every update commutes, so batches may commit in any order (concurrent workers): counts add,
// times take their min or max, and each profile field keeps its newest value by its own time
// (`<field>_ts`; ties go to the greater value, as in ringwatch.graph.rows).
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
WHERE r.profiled
WITH a, r,
     r.country_ts IS NOT NULL AND (a.country_ts IS NULL OR r.country_ts > a.country_ts
       OR (r.country_ts = a.country_ts AND r.country > a.country)) AS country,
     r.city_ts IS NOT NULL AND (a.city_ts IS NULL OR r.city_ts > a.city_ts
       OR (r.city_ts = a.city_ts AND r.city > a.city)) AS city,
     r.birthdate_ts IS NOT NULL AND (a.birthdate_ts IS NULL OR r.birthdate_ts > a.birthdate_ts
       OR (r.birthdate_ts = a.birthdate_ts AND r.birthdate > a.birthdate)) AS birthdate,
     r.name_sketch_ts IS NOT NULL AND (a.name_sketch_ts IS NULL OR r.name_sketch_ts > a.name_sketch_ts
       OR (r.name_sketch_ts = a.name_sketch_ts AND r.name_sketch > a.name_sketch)) AS name_sketch,
     r.email_sketch_ts IS NOT NULL AND (a.email_sketch_ts IS NULL OR r.email_sketch_ts > a.email_sketch_ts
       OR (r.email_sketch_ts = a.email_sketch_ts AND r.email_sketch > a.email_sketch)) AS email_sketch,
     r.ua_ts IS NOT NULL AND (a.ua_ts IS NULL OR r.ua_ts > a.ua_ts
       OR (r.ua_ts = a.ua_ts AND r.ua > a.ua)) AS ua
SET a.country = CASE WHEN country THEN r.country ELSE a.country END,
    a.country_ts = CASE WHEN country THEN r.country_ts ELSE a.country_ts END,
    a.city = CASE WHEN city THEN r.city ELSE a.city END,
    a.city_ts = CASE WHEN city THEN r.city_ts ELSE a.city_ts END,
    a.birthdate = CASE WHEN birthdate THEN r.birthdate ELSE a.birthdate END,
    a.birthdate_ts = CASE WHEN birthdate THEN r.birthdate_ts ELSE a.birthdate_ts END,
    a.name_sketch = CASE WHEN name_sketch THEN r.name_sketch ELSE a.name_sketch END,
    a.name_sketch_ts = CASE WHEN name_sketch THEN r.name_sketch_ts ELSE a.name_sketch_ts END,
    a.email_sketch = CASE WHEN email_sketch THEN r.email_sketch ELSE a.email_sketch END,
    a.email_sketch_ts = CASE WHEN email_sketch THEN r.email_sketch_ts ELSE a.email_sketch_ts END,
    a.ua = CASE WHEN ua THEN r.ua ELSE a.ua END,
    a.ua_ts = CASE WHEN ua THEN r.ua_ts ELSE a.ua_ts END
