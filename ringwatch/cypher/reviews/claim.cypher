// Optimistic: the caller read the item at `version` and decided the claim is allowed. Writing
// `locked_at` first takes Neo4j's node lock, so the version read after it is the latest committed
// one and two concurrent claims cannot both pass (the embedded engine runs writes one at a time).
UNWIND $rows AS r
MATCH (x:Review {id: r.id})
SET x.locked_at = $now
WITH x, r
WHERE x.version = r.version
SET x.version = x.version + 1, x.status = 'claimed', x.claimant = r.claimant,
    x.claimant_name = r.claimant_name, x.claim_token = r.token, x.claimed_at = $now,
    x.claim_expires = r.expires, x.updated_at = $now
CREATE (:Audit {id: r.audit_id, at: $now, actor: r.actor, action: 'review.claimed',
                subject_type: x.subject_type, subject_id: x.subject_id, reason: r.reason,
                before: r.before, after: r.after})
