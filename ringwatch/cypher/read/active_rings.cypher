// Members of active rings, for matching this run's rings to the previous run's ids.
MATCH (a:Account)-[:MEMBER_OF]->(g:Ring {status: 'active'})
RETURN g.id AS ring, a.id AS account
