// __LABEL__ from ringwatch.graph.labels.
MATCH (n:__LABEL__) RETURN count(n) AS n
