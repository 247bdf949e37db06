// banned_identifier_rings: Active rings with members who share an identifier with a banned account (nothing if the account is not banned).
// @param account_id string  the banned account
// @param max_sharing int = 50 (2..100000)  identifiers shared by more accounts than this are not followed
// @param limit int = 100 (1..10000)  most rings returned, the most linked members first
MATCH (a:Account {id: $account_id})
WHERE a.banned_at IS NOT NULL
MATCH (a)-[:USES_DEVICE|USES_IP|USES_SUBNET|USES_EMAIL|USES_EMAIL_DOMAIN|USES_PHONE|USES_CARD]->(i)<-[:USES_DEVICE|USES_IP|USES_SUBNET|USES_EMAIL|USES_EMAIL_DOMAIN|USES_PHONE|USES_CARD]-(b:Account)
WHERE b.id <> a.id AND i.accounts <= $max_sharing
MATCH (b)-[:MEMBER_OF]->(g:Ring)
WHERE g.status = 'active'
WITH g, collect(DISTINCT b.id) AS linked, collect(DISTINCT labels(i)[0] + ':' + i.key) AS shared
RETURN g.id AS ring, g.verdict AS verdict, g.score AS score, g.size AS size,
       size(linked) AS linked_members, linked, shared
ORDER BY linked_members DESC, ring
LIMIT $limit
