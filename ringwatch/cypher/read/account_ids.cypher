// Every account id, unordered: the caller sorts and pages them (CypherStore.stream_snapshot).
MATCH (a:Account)
RETURN a.id AS id
