// Account review items resolved `fraud` or `legit`: labels for the verdict model.
MATCH (x:Review) WHERE x.status = 'resolved' AND x.subject_type = 'account'
  AND x.label IN ['fraud', 'legit']
RETURN x.subject_id AS id, x.label AS label, x.resolved_at AS at
