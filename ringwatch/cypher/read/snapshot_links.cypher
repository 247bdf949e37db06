// One identifier relationship type (__REL__) out of one internal-id range of accounts, as
// columns of internal ids: linear in edges, with no per-edge strings. Only the columns a
// link needs: every extra column costs the engine a coalesce and a list per page.
MATCH (a:Account)-[e:__REL__]->(x)
WHERE id(a) >= $lo AND id(a) < $hi
RETURN collect(id(a)) AS src, collect(id(x)) AS dst,
       collect(coalesce(e.count, 1)) AS n, collect(coalesce(e.first_seen, 0)) AS first
