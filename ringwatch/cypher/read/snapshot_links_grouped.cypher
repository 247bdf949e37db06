// Every identifier relationship type (__RELS__) out of one internal-id range of accounts in
// ONE query, for an engine that stores a node's relationships as one chain (Neo4j's record
// store): one query per type walks every account's whole chain once per type, ten times in
// all. One row still: `rel` names each type found, and every other column holds one list per
// type, in the same order, each as snapshot_links returns it for that type alone.
MATCH (a:Account)-[e:__RELS__]->(x)
WHERE id(a) >= $lo AND id(a) < $hi
WITH type(e) AS rel, collect(id(a)) AS src, collect(id(x)) AS dst,
     collect(coalesce(e.count, 1)) AS n, collect(coalesce(e.first_seen, 0)) AS first
RETURN collect(rel) AS rel, collect(src) AS src, collect(dst) AS dst, collect(n) AS n,
       collect(first) AS first
