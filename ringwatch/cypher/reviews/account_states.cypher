UNWIND $ids AS id
MATCH (a:Account {id: id})
RETURN a.id AS id, a.status AS status, a.banned_at AS banned_at
