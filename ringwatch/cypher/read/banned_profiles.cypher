// Banned accounts' profiles (no links), paged by id, as columns: repeat-offender matching
// compares an incremental run's new accounts with every one of them, in scope or not.
MATCH (a:Account) WHERE a.banned_at IS NOT NULL AND a.id > $after
WITH a ORDER BY a.id LIMIT $limit
RETURN collect(a.id) AS id,
       collect(coalesce(a.created_at, -1)) AS created_at,
       collect(coalesce(a.first_seen, -1)) AS first_seen,
       collect(a.banned_at) AS banned_at,
       collect(coalesce(a.country, '')) AS country,
       collect(coalesce(a.birthdate, '')) AS birthdate,
       collect(coalesce(a.name_sketch, '')) AS name_sketch,
       collect(coalesce(a.email_sketch, '')) AS email_sketch
