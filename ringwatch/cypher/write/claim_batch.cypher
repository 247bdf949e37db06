// A batch is applied at most once: the first attempt to create its marker wins, and every later
// statement of the batch runs only for the attempt holding the marker's token.
MERGE (b:Batch {id: $batch})
  ON CREATE SET b.token = $token, b.applied_at = $now, b.events = $events
RETURN b.token = $token AS claimed
