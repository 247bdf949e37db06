MATCH (c:Change) WHERE c.seq > $after
RETURN c.seq AS seq, c.kind AS kind, c.subject AS subject, c.subject_id AS subject_id,
       c.at AS at, c.run AS run, c.detail AS detail
ORDER BY c.seq
LIMIT $limit
