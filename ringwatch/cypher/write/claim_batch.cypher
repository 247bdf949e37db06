// A batch is applied at most once: only the transaction that CREATES its marker runs the batch's
// sections. Being the creator, not holding a token, is what counts: a client or driver that
// resends an attempt whose commit was never acknowledged (a server restart mid-commit) must find
// the marker of the attempt that did commit and apply nothing. Two attempts racing past the
// OPTIONAL MATCH are settled by the unique constraint on :Batch(id).
OPTIONAL MATCH (existing:Batch {id: $batch})
WITH count(existing) = 0 AS claimed
FOREACH (_ IN CASE WHEN claimed THEN [1] ELSE [] END |
  CREATE (:Batch {id: $batch, applied_at: $now, events: $events}))
WITH claimed
RETURN claimed
