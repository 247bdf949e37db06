MATCH (s:Sequence {name: 'review-sync'})
RETURN s.value AS value
