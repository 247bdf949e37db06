// ring_neighbourhood: A ring's members and every account within 2 hops of them through shared identifiers (hop = two accounts using one identifier).
// @param ring_id string  the ring
// @param max_sharing int = 50 (2..100000)  identifiers shared by more accounts than this are not followed
// @param limit int = 500 (1..10000)  most accounts returned, members first, then by hops
MATCH (g:Ring {id: $ring_id})<-[:MEMBER_OF]-(m:Account)
WITH collect(DISTINCT m.id) AS members
UNWIND members AS mid
MATCH (m:Account {id: mid})
OPTIONAL MATCH (m)-[:USES_DEVICE|USES_IP|USES_SUBNET|USES_EMAIL|USES_EMAIL_DOMAIN|USES_PHONE|USES_CARD]->(i)<-[:USES_DEVICE|USES_IP|USES_SUBNET|USES_EMAIL|USES_EMAIL_DOMAIN|USES_PHONE|USES_CARD]-(n:Account)
WHERE i.accounts <= $max_sharing AND NOT n.id IN members
WITH members, collect(DISTINCT n.id) AS hop1
UNWIND (CASE WHEN size(hop1) = 0 THEN [null] ELSE hop1 END) AS hid
OPTIONAL MATCH (h:Account {id: hid})-[:USES_DEVICE|USES_IP|USES_SUBNET|USES_EMAIL|USES_EMAIL_DOMAIN|USES_PHONE|USES_CARD]->(j)<-[:USES_DEVICE|USES_IP|USES_SUBNET|USES_EMAIL|USES_EMAIL_DOMAIN|USES_PHONE|USES_CARD]-(n:Account)
WHERE j.accounts <= $max_sharing AND NOT n.id IN members AND NOT n.id IN hop1
WITH members, hop1, collect(DISTINCT n.id) AS hop2
UNWIND [x IN members | [x, 0]] + [x IN hop1 | [x, 1]] + [x IN hop2 | [x, 2]] AS found
MATCH (a:Account {id: found[0]})
RETURN a.id AS account, found[1] AS hops, a.risk AS risk, a.banned_at IS NOT NULL AS banned,
       a.ring_id AS ring_id
ORDER BY hops, account
LIMIT $limit
