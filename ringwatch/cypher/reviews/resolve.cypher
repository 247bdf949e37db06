// Runs in the batch `review-resolve:ID`, which the store applies at most once: an item is
// resolved, and its label's effects applied, exactly once whoever else tries.
UNWIND $rows AS r
MATCH (x:Review {id: r.id})
SET x.status = 'resolved', x.label = r.label, x.note = r.note, x.resolved_by = r.actor_id,
    x.resolved_by_name = r.actor_name, x.resolved_at = $now, x.updated_at = $now,
    x.resolve_token = r.token, x.version = x.version + 1, x.claim_expires = null
REMOVE x.open_key
