// Verdict changes, numbered in commit order. SET before reading takes the Sequence node's write
// lock first, so concurrent writers queue on it instead of reading the same base (a read-then-
// SET would hand two transactions the same numbers). A reader never sees change n+1 before n.
MERGE (s:Sequence {name: 'changes'})
  ON CREATE SET s.value = 0
SET s.value = s.value + size($rows)
WITH s.value - size($rows) AS base
UNWIND range(0, size($rows) - 1) AS i
WITH base + i + 1 AS seq, $rows[i] AS r
CREATE (:Change {seq: seq, kind: r.kind, subject: r.subject, subject_id: r.id, at: $now,
                 run: $run, detail: r.detail})
