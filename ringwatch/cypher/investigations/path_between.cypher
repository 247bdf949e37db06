// path_between: The shortest path between two accounts through identifiers they use (devices, IPs, emails, phones, cards).
// @param from_account string  one account
// @param to_account string  the other account
// @param max_length int = 4 (2..6)  most relationships on the path (2 per account hop); 6 is the hard cap
// @param max_sharing int = 50 (2..100000)  identifiers shared by more accounts than this are not followed
// A bounded variable-length pattern, not shortestPath(): FalkorDB allows shortestPath only
// directed, and a path between accounts changes direction at every identifier
// (Account)-[:USES_*]->(identifier)<-[:USES_*]-(Account). The literal bound (*..6) is the hard
// cap: neither engine takes a parameter there. Subnets and email domains are left out: they are
// shared by design and would connect everyone.
MATCH (a:Account {id: $from_account}), (b:Account {id: $to_account})
MATCH p = (a)-[:USES_DEVICE|USES_IP|USES_EMAIL|USES_PHONE|USES_CARD*..6]-(b)
WHERE length(p) <= $max_length
  AND all(n IN nodes(p) WHERE n:Account OR n.accounts <= $max_sharing)
RETURN length(p) AS length,
       [n IN nodes(p) | {kind: labels(n)[0], id: coalesce(n.id, n.key)}] AS steps
ORDER BY length
LIMIT 1
