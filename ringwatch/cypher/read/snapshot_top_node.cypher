// The highest internal node id: the end of the id ranges a bulk snapshot export walks.
MATCH (n)
RETURN max(id(n)) AS top
