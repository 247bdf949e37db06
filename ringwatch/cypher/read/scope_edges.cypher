// Every outgoing edge a snapshot holds (__RELS__: identifier links, account relations,
// ENGAGED) of one chunk of a scope's accounts, as columns. The far end is named by its key
// (an identifier's key, the other account's id, the target's id), since it may lie outside
// the scope; `action` is '' except on engagements. `total` is an identifier's accounts in the
// whole store (the count ingest keeps): the scope holds only some users of an identifier over
// its cap, which would look rare in the scope alone.
MATCH (a:Account) WHERE a.id IN $ids
MATCH (a)-[e:__RELS__]->(x)
RETURN collect(a.id) AS a, collect(type(e)) AS rel, collect(coalesce(x.key, x.id)) AS key,
       collect(coalesce(e.count, 1)) AS n, collect(coalesce(e.first_seen, 0)) AS first,
       collect(coalesce(e.action, '')) AS action, collect(coalesce(x.accounts, 0)) AS total
