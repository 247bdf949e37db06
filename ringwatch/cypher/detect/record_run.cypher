MERGE (x:DetectionRun {id: $run})
SET x.kind = $kind, x.started_at = $started, x.finished_at = $now, x.accounts = $accounts,
    x.rings = $rings, x.evaders = $evaders, x.stats = $stats
