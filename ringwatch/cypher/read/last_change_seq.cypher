// The last committed Change seq: where a new webhook subscription starts reading the log.
MATCH (s:Sequence {name: 'changes'}) RETURN s.value AS value
