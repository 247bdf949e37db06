// The accounts of a batch that brought no profile field and no signup (payments, engagements,
// relations): counts and times only, upsert_accounts' updates without its profile fields.
UNWIND $rows AS r
MERGE (a:Account {id: r.id})
  ON CREATE SET a.first_seen = r.first, a.last_seen = r.last, a.events = r.n
  ON MATCH SET a.first_seen = CASE WHEN a.first_seen IS NULL OR r.first < a.first_seen THEN r.first ELSE a.first_seen END,
               a.last_seen = CASE WHEN a.last_seen IS NULL OR r.last > a.last_seen THEN r.last ELSE a.last_seen END,
               a.events = coalesce(a.events, 0) + r.n
