// Every node with its labels and properties (tests compare whole stores).
MATCH (n)
RETURN labels(n) AS labels, properties(n) AS props
