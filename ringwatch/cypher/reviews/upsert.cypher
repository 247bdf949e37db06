// One unresolved item per subject: `open_key` ("ring:ID", "account:ID") exists only until the item
// is resolved, so MERGE on it finds the open or claimed item to escalate, or creates a new one.
// The audit entry is created by the same statement, so the decision path stays one write.
UNWIND $rows AS r
MERGE (x:Review {open_key: r.key})
  ON CREATE SET x.id = r.id, x.kind = r.kind, x.subject_type = r.subject_type,
                x.subject_id = r.subject_id, x.status = 'open', x.created_at = $now,
                x.priority = r.priority, x.version = 0, x.sources = 0
WITH x, r, x.id = r.id AS created, x.priority AS was
SET x.priority = CASE WHEN r.priority > x.priority THEN r.priority ELSE x.priority END,
    x.source = r.source, x.sources = x.sources + 1, x.updated_at = $now
CREATE (:Audit {id: r.audit_id, at: $now, actor: r.actor,
                action: CASE WHEN created THEN 'review.created' ELSE 'review.escalated' END,
                subject_type: r.subject_type, subject_id: r.subject_id, reason: r.reason,
                before: CASE WHEN created THEN 'null'
                        ELSE '{"priority":' + toString(was) + ',"review":"' + x.id + '"}' END,
                after: r.after})
