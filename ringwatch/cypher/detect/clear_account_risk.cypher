// Accounts of the run's scope that this run found no risk for.
UNWIND $rows AS id
MATCH (a:Account {id: id})
WHERE a.risk_run IS NOT NULL AND a.risk_run <> $run
SET a.risk = 0.0, a.ring_id = null, a.evader_score = 0.0, a.risk_run = $run, a.risk_at = $now,
    a.sybil_score = null, a.engagement_score = 0.0
