// shared_device: Who shares this device: every account sharing any device with an account, with the devices and how many.
// @param account_id string  the account whose devices are followed
// @param limit int = 100 (1..10000)  most accounts returned, the most devices shared first
MATCH (a:Account {id: $account_id})-[:USES_DEVICE]->(d:Device)<-[:USES_DEVICE]-(b:Account)
WHERE b.id <> a.id
WITH b, collect(DISTINCT d.key) AS devices
RETURN b.id AS account, size(devices) AS shared_devices, devices,
       b.banned_at IS NOT NULL AS banned, b.ring_id AS ring_id
ORDER BY shared_devices DESC, account
LIMIT $limit
