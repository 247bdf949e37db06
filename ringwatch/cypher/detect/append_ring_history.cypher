// History is kept as JSON text: both engines store it the same way, and it is read whole.
UNWIND $rows AS r
MATCH (g:Ring {id: r.id})
SET g.history = r.history
