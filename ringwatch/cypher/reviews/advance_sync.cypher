// The review queue's position in the Change log, advanced in the same batch as the items it
// created: a crash between them cannot skip a suspicious ring or queue it twice.
UNWIND $rows AS r
MERGE (s:Sequence {name: 'review-sync'})
SET s.value = r.upto
