UNWIND $ids AS id
MATCH (g:Ring {id: id})
RETURN g.id AS id, g.history AS history
