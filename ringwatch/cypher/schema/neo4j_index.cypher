// __LABEL__ / __PROP__ from ringwatch.graph.labels. A range index for lookups and ordered reads
// on a property that is not unique.
CREATE INDEX IF NOT EXISTS FOR (n:__LABEL__) ON (n.__PROP__)
