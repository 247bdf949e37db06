UNWIND $rows AS r
MERGE (g:Ring {id: r.id})
  ON CREATE SET g.created_at = $now, g.first_run = $run
SET g.score = r.score, g.verdict = r.verdict, g.size = r.size, g.evidence = r.evidence,
    g.history = coalesce(g.history, '[]'), g.status = 'active', g.run = $run, g.updated_at = $now
