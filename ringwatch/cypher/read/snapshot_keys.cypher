// One internal-id range of an identifier or target label (__LABEL__, keyed on __PROP__) as
// columns: what the edge export's internal destination ids stand for.
MATCH (x:__LABEL__)
WHERE id(x) >= $lo AND id(x) < $hi
RETURN collect(id(x)) AS node, collect(x.__PROP__) AS key
