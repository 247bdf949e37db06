// Rings of the run's scope that this run did not produce: merged, split or dissolved.
UNWIND $rows AS id
MATCH (g:Ring {id: id})
WHERE g.run <> $run AND g.status = 'active'
SET g.status = 'retired', g.updated_at = $now
