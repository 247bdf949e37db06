// One internal-id range of accounts as columns (one row of lists, no record per account).
// collect() drops nulls, so every column is coalesced to keep the lists aligned; -1 and ''
// mean unknown, as in SnapshotBuilder.
MATCH (a:Account)
WHERE id(a) >= $lo AND id(a) < $hi
RETURN collect(id(a)) AS node, collect(a.id) AS id,
       collect(coalesce(a.created_at, -1)) AS created_at,
       collect(coalesce(a.first_seen, -1)) AS first_seen,
       collect(coalesce(a.banned_at, -1)) AS banned_at,
       collect(coalesce(a.country, '')) AS country,
       collect(coalesce(a.birthdate, '')) AS birthdate,
       collect(coalesce(a.name_sketch, '')) AS name_sketch,
       collect(coalesce(a.email_sketch, '')) AS email_sketch,
       collect(coalesce(a.status, '')) AS status
