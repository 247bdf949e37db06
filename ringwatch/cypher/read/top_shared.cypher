// __LABEL__ from ringwatch.graph.labels. `accounts` is kept current by link_identifier.
MATCH (i:__LABEL__) WHERE i.accounts > 1
RETURN i.key AS key, i.accounts AS accounts
ORDER BY accounts DESC, key
LIMIT $limit
