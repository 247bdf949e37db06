// A `legit` label: the ring is benign now, and stays benign in later detection runs while its
// shared identifiers stay within `suppressed_identifiers` (services/reviews.apply_suppressions).
// Its members lose the ring's share of their risk; an evader match still counts.
UNWIND $rows AS r
MATCH (g:Ring {id: r.ring})
SET g.verdict = 'benign', g.suppressed_identifiers = r.identifiers,
    g.suppressed_fingerprint = r.fingerprint, g.suppressed_by = r.review,
    g.suppressed_at = $now, g.updated_at = $now
WITH g
OPTIONAL MATCH (a:Account)-[:MEMBER_OF]->(g)
WITH a WHERE a IS NOT NULL
SET a.risk = coalesce(a.evader_score, 0.0)
