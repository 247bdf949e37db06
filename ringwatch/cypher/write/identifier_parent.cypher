// IP -> Subnet, Email -> EmailDomain; labels from ringwatch.graph.labels.
UNWIND $rows AS r
MATCH (c:__CHILD__ {key: r.key})
MERGE (p:__PARENT__ {key: r.parent})
MERGE (c)-[:PART_OF]->(p)
