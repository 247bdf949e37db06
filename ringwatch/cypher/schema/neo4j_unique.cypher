// __LABEL__ / __PROP__ from ringwatch.graph.labels.
CREATE CONSTRAINT IF NOT EXISTS FOR (n:__LABEL__) REQUIRE n.__PROP__ IS UNIQUE
