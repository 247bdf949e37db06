// __REL__ from ringwatch.graph.labels.
MATCH ()-[e:__REL__]->() RETURN count(e) AS n, sum(e.count) AS events
