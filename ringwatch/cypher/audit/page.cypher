// Keyset paging on (at, id): entries written by one batch share `at`, so the id breaks ties.
MATCH (x:Audit)
WHERE x.at > $at OR (x.at = $at AND x.id > $id)
RETURN x.id AS id, x.at AS at, x.actor AS actor, x.action AS action,
       x.subject_type AS subject_type, x.subject_id AS subject_id, x.reason AS reason,
       x.before AS before, x.after AS after
ORDER BY at, id
LIMIT $limit
