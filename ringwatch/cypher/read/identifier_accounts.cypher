// __LABEL__ / __REL__ from ringwatch.graph.labels: one identifier and a page of its accounts.
MATCH (i:__LABEL__ {key: $key})<-[e:__REL__]-(a:Account)
WITH i, a, e ORDER BY a.id
SKIP $skip LIMIT $limit
RETURN i.accounts AS accounts, a.id AS account, a.risk AS risk, a.status AS status,
       a.banned_at AS banned_at, e.first_seen AS first_seen
