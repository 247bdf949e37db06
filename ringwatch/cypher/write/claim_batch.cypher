// A batch is applied at most once: the first attempt to create its marker wins. The engine runs
// the batch's sections only for the attempt whose token the marker holds.
MERGE (b:Batch {id: $batch})
  ON CREATE SET b.token = $token, b.applied_at = $now, b.events = $events
WITH b.token = $token AS claimed
RETURN claimed
