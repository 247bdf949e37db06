// Verdict changes, numbered in commit order: the Sequence node is locked by the transaction that
// advances it, so a reader never sees change n+1 before change n. The feed pages by `seq`.
MERGE (s:Sequence {name: 'changes'})
  ON CREATE SET s.value = 0
WITH s, s.value AS base
SET s.value = base + size($rows)
WITH base
UNWIND range(0, size($rows) - 1) AS i
WITH base + i + 1 AS seq, $rows[i] AS r
CREATE (:Change {seq: seq, kind: r.kind, subject: r.subject, subject_id: r.id, at: $now,
                 run: $run, detail: r.detail})
