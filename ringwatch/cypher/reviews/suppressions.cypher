UNWIND $ids AS id
MATCH (g:Ring {id: id})
WHERE g.suppressed_identifiers IS NOT NULL
RETURN g.id AS id, g.suppressed_identifiers AS identifiers, g.suppressed_by AS review,
       g.suppressed_fingerprint AS fingerprint
