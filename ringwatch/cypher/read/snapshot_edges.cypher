// One page of accounts' outgoing edges of every kind a snapshot holds, in ONE query: one index
// seek per account, not one per account and edge kind. __RELS__ (ringwatch.graph.labels): the
// identifier links, the account relations and ENGAGED. `key` is the identifier's key, the other
// account's id or the target's id; `action` is set on engagements only.
UNWIND $ids AS id
MATCH (a:Account {id: id})-[e:__RELS__]->(x)
RETURN a.id AS a, type(e) AS rel, coalesce(x.key, x.id) AS key, e.count AS n,
       e.first_seen AS first, e.action AS action
