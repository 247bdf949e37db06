UNWIND $ids AS id
MATCH (a:Account {id: id})
RETURN a.id AS id, a.created_at AS created_at, a.first_seen AS first_seen,
       a.banned_at AS banned_at, a.country AS country, a.birthdate AS birthdate,
       a.name_sketch AS name_sketch, a.email_sketch AS email_sketch, a.status AS status
