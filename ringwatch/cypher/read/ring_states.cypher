UNWIND $ids AS id
MATCH (g:Ring {id: id})
RETURN g.id AS id, g.verdict AS verdict, g.status AS status, g.size AS size
