// Ring review items resolved `fraud` or `legit`: the label holds for the ring's members.
MATCH (x:Review) WHERE x.status = 'resolved' AND x.subject_type = 'ring'
  AND x.label IN ['fraud', 'legit']
MATCH (a:Account)-[:MEMBER_OF]->(:Ring {id: x.subject_id})
RETURN a.id AS id, x.label AS label, x.resolved_at AS at
