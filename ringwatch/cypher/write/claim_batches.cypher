// Consecutive batches written as one unit (`CypherStore.apply_batches`): every batch keeps its
// own marker, and the markers are created, with the sections run, only if NONE of them exists;
// otherwise nothing is written and the caller applies the batches one by one (claim_batch),
// so a batch applied before is skipped as always. Being the creator is what counts, as in
// claim_batch; two attempts racing past the OPTIONAL MATCH are settled by the unique
// constraint on :Batch(id).
UNWIND $batches AS b
OPTIONAL MATCH (existing:Batch {id: b.id})
WITH count(existing) = 0 AS claimed, collect(b) AS wanted
FOREACH (x IN CASE WHEN claimed THEN wanted ELSE [] END |
  CREATE (:Batch {id: x.id, applied_at: $now, events: x.events}))
WITH claimed
RETURN claimed
