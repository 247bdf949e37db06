// The audit log is append-only: entries are only ever CREATEd (never MERGEd, SET or deleted), and
// always in the same atomic batch as the change they describe, so the log cannot disagree with
// the graph. `at` is the batch's own clock, shared with the Change records of the same batch.
UNWIND $rows AS r
CREATE (:Audit {id: r.id, at: $now, actor: r.actor, action: r.action,
                subject_type: r.subject_type, subject_id: r.subject_id, reason: r.reason,
                before: r.before, after: r.after})
