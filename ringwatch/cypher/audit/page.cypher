// Keyset paging on (at, id): entries written by one batch share `at`, so the id breaks ties.
// `x.at >= $at` first, so that the range index on Audit(at) serves the page: Neo4j reads it in
// order and stops at $limit, where a label scan would sort the whole log for every page.
MATCH (x:Audit)
WHERE x.at >= $at AND (x.at > $at OR x.id > $id)
RETURN x.id AS id, x.at AS at, x.actor AS actor, x.action AS action,
       x.subject_type AS subject_type, x.subject_id AS subject_id, x.reason AS reason,
       x.before AS before, x.after AS after
ORDER BY at, id
LIMIT $limit
