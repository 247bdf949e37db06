// The engagements (__REL__) out of one internal-id range of accounts, as columns of
// internal ids plus each engagement's first time and action.
MATCH (a:Account)-[e:__REL__]->(x)
WHERE id(a) >= $lo AND id(a) < $hi
RETURN collect(id(a)) AS src, collect(id(x)) AS dst,
       collect(coalesce(e.first_seen, 0)) AS first, collect(coalesce(e.action, '')) AS action
