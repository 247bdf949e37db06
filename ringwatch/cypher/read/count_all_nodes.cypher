// Every node, whatever its label: an empty store has none (schema only).
MATCH (n)
RETURN count(n) AS n
