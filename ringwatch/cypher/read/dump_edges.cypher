// Every edge with both ends' labels and properties (tests compare whole stores).
MATCH (a)-[r]->(b)
RETURN labels(a) AS a_labels, properties(a) AS a, type(r) AS type, properties(r) AS props,
       labels(b) AS b_labels, properties(b) AS b
