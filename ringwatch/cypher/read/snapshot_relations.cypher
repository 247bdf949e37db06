// One account-to-account relationship type (__REL__) out of one internal-id range of
// accounts: both ends by internal id, nothing else (the type is the relation's kind).
MATCH (a:Account)-[:__REL__]->(x)
WHERE id(a) >= $lo AND id(a) < $hi
RETURN collect(id(a)) AS src, collect(id(x)) AS dst
