// $statuses: the stored statuses that `$status` can mean (ReviewQueue), so that the index on
// Review(status) finds them instead of a scan of every item ever resolved.
// Oldest first; keyset on (created_at, id). A claim past its expiry counts as open.
MATCH (x:Review)
WHERE x.status IN $statuses
  AND CASE $status
        WHEN 'open' THEN x.status = 'open' OR (x.status = 'claimed' AND x.claim_expires <= $now)
        WHEN 'claimed' THEN x.status = 'claimed' AND x.claim_expires > $now
        ELSE x.status = $status
      END
  AND (x.created_at > $created OR (x.created_at = $created AND x.id > $id))
RETURN x.id AS id, x.kind AS kind, x.subject_type AS subject_type, x.subject_id AS subject_id,
       x.status AS status, x.priority AS priority, x.source AS source, x.sources AS sources,
       x.claimant AS claimant, x.claimant_name AS claimant_name, x.claimed_at AS claimed_at,
       x.claim_expires AS claim_expires, x.claim_token AS claim_token, x.label AS label,
       x.note AS note, x.resolved_by AS resolved_by, x.resolved_at AS resolved_at,
       x.created_at AS created_at, x.updated_at AS updated_at, x.version AS version
ORDER BY created_at, id
LIMIT $limit
