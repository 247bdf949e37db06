// Detection runs, newest first (GET /v1/detection/runs).
MATCH (x:DetectionRun)
RETURN x.id AS id, x.kind AS kind, x.started_at AS started_at, x.finished_at AS finished_at,
       x.accounts AS accounts, x.rings AS rings, x.evaders AS evaders, x.stats AS stats
ORDER BY x.started_at DESC, x.id DESC
LIMIT $limit
