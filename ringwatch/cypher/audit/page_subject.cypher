// One subject's entries, in time order; ties within a batch broken by id (see audit/page).
// Found through the index on Audit(subject_id), not a scan of the whole log.
MATCH (x:Audit)
WHERE x.subject_id = $subject_id AND x.subject_type = $subject_type
  AND x.at >= $at AND (x.at > $at OR x.id > $id)
RETURN x.id AS id, x.at AS at, x.actor AS actor, x.action AS action,
       x.subject_type AS subject_type, x.subject_id AS subject_id, x.reason AS reason,
       x.before AS before, x.after AS after
ORDER BY at, id
LIMIT $limit
