MATCH (x:DetectionRun {id: $id})
RETURN x.id AS id, x.kind AS kind, x.started_at AS started_at, x.finished_at AS finished_at,
       x.accounts AS accounts, x.rings AS rings, x.evaders AS evaders, x.stats AS stats
