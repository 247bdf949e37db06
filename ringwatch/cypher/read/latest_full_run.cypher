// The newest full run's record: incremental runs reuse the verdict model it fitted.
MATCH (x:DetectionRun {kind: 'full'})
RETURN x.id AS id, x.stats AS stats
ORDER BY x.started_at DESC, x.id DESC
LIMIT 1
