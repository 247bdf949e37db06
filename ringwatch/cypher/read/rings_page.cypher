MATCH (g:Ring)
WHERE g.status = 'active'
  AND ($verdict IS NULL OR g.verdict = $verdict)
  AND g.size >= $min_size AND ($max_size IS NULL OR g.size <= $max_size)
  AND ($since IS NULL OR g.updated_at >= $since)
  AND g.id > $after
RETURN g.id AS id, g.verdict AS verdict, g.score AS score, g.size AS size,
       g.created_at AS created_at, g.updated_at AS updated_at
ORDER BY g.id
LIMIT $limit
