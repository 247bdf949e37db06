"""A first load of a whole history with the engines' own bulk tools (`ringwatch load`).

`graph.BulkGraph` folds normalised records into the final nodes and edges that ingest's write
statements would leave on an empty store; `falkordb` packs them into `GRAPH.BULK` commands,
`neo4j` writes them as CSV for `neo4j-admin database import full`.
"""
