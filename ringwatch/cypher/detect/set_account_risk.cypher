UNWIND $rows AS r
MATCH (a:Account {id: r.a})
SET a.risk = r.risk, a.ring_id = r.ring, a.evader_score = r.evader, a.risk_run = $run,
    a.sybil_score = r.sybil, a.engagement_score = r.engagement,
    a.risk_at = $now
