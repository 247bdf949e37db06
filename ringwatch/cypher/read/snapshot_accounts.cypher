// Paged by id so a snapshot streams in bounded memory and each page is an index range scan.
MATCH (a:Account) WHERE a.id > $after
RETURN a.id AS id, a.created_at AS created_at, a.first_seen AS first_seen,
       a.banned_at AS banned_at, a.country AS country, a.birthdate AS birthdate,
       a.name_sketch AS name_sketch, a.email_sketch AS email_sketch
ORDER BY a.id
LIMIT $limit
