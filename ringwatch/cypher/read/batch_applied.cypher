MATCH (b:Batch {id: $batch}) RETURN count(b) > 0 AS applied
