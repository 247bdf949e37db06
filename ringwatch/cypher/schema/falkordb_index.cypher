// __LABEL__ / __PROP__ from ringwatch.graph.labels. FalkorDB needs the index before a constraint.
CREATE INDEX FOR (n:__LABEL__) ON (n.__PROP__)
