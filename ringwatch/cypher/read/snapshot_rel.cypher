// One relationship type (__REL__) out of one internal-id range of accounts, as columns of
// internal ids: linear in edges, with no per-edge strings. `n`/`first` are set on identifier
// links, `first`/`action` on engagements; the others get the coalesced defaults.
MATCH (a:Account)-[e:__REL__]->(x)
WHERE id(a) >= $lo AND id(a) < $hi
RETURN collect(id(a)) AS src, collect(id(x)) AS dst,
       collect(coalesce(e.count, 1)) AS n, collect(coalesce(e.first_seen, 0)) AS first,
       collect(coalesce(e.action, '')) AS action
