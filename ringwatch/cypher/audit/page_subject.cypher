// One subject's entries, in time order; ties within a batch broken by id (see audit/page).
MATCH (x:Audit {subject_type: $subject_type, subject_id: $subject_id})
WHERE x.at > $at OR (x.at = $at AND x.id > $id)
RETURN x.id AS id, x.at AS at, x.actor AS actor, x.action AS action,
       x.subject_type AS subject_type, x.subject_id AS subject_id, x.reason AS reason,
       x.before AS before, x.after AS after
ORDER BY at, id
LIMIT $limit
