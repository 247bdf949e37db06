// An incremental run's scope, one chunk of account ids, as columns (one row of lists; the
// accounts of snapshot_accounts without the internal id). `IN $ids` seeks the account index
// on both engines (see expand_scope). collect() drops nulls, so every column is coalesced.
MATCH (a:Account) WHERE a.id IN $ids
RETURN collect(a.id) AS id,
       collect(coalesce(a.created_at, -1)) AS created_at,
       collect(coalesce(a.first_seen, -1)) AS first_seen,
       collect(coalesce(a.banned_at, -1)) AS banned_at,
       collect(coalesce(a.country, '')) AS country,
       collect(coalesce(a.birthdate, '')) AS birthdate,
       collect(coalesce(a.name_sketch, '')) AS name_sketch,
       collect(coalesce(a.email_sketch, '')) AS email_sketch,
       collect(coalesce(a.status, '')) AS status
