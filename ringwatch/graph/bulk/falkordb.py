"""Tables -> FalkorDB's `GRAPH.BULK` command, the binary protocol its bulk loader speaks.

The `falkordb-bulk-loader` package reads CSV files back through Python's csv module to build
the same bytes; the tables are in memory already, so they are packed here directly and nothing
is written to disk. Wire format (FalkorDB's bulk_insert.c, as the loader sends it):

    GRAPH.BULK <graph> [BEGIN] <nodes> <edges> <label tokens> <type tokens> <token>...
    token   := name \\0, uint32 property count, property names \\0 each, then entities
    node    := one value per property
    edge    := uint64 source node id, uint64 destination node id, one value per property
    value   := 0x00 (none: the property is not set) | 0x04 int64 | 0x03 utf-8 \\0

Node ids are given by the engine in the order nodes arrive (from 0), so edges name their ends
by the position their node was sent at. `BEGIN` refuses a graph key that exists already.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import redis

from ringwatch.errors import BatchFailed, Invalid
from ringwatch.graph.bulk.graph import Column, EdgeTable, NodeTable, Tables
from ringwatch.graph.labels import Label

# Per command; the engine parses a command whole before it answers, so this also bounds the
# reply time of one call. Redis refuses arguments past 512 MB (proto-max-bulk-len).
COMMAND_BYTES = 48 << 20
_NONE = b"\x00"
_LONG = struct.Struct("<Bq")
_ENDS = struct.Struct("<QQ")
_SPAN_EDGE = struct.Struct("<QQBqBqBq")


def _text(value: str) -> bytes:
    data = value.encode()
    if b"\x00" in data:
        raise Invalid(f"a value holds a NUL character, which GRAPH.BULK cannot carry: {value!r}")
    return b"\x03" + data + b"\x00"


def _encoder(kind: type) -> Callable[[Any], bytes]:
    if kind is int:
        pack = _LONG.pack
        return lambda v: _NONE if v is None else pack(4, v)
    return lambda v: _NONE if v is None else _text(v)


def _header(name: str, columns: Sequence[Column]) -> bytes:
    parts = [name.encode() + b"\x00", struct.pack("<I", len(columns))]
    parts += [col.encode() + b"\x00" for col, _ in columns]
    return b"".join(parts)


def _node_bytes(table: NodeTable) -> Iterator[bytes]:
    types = [kind for _, kind in table.columns]
    if types == [str, int]:  # identifiers: key, accounts
        pack = _LONG.pack
        for key, n in table.rows:
            yield _text(key) + (_NONE if n is None else pack(4, n))
        return
    encoders = [_encoder(kind) for kind in types]
    for row in table.rows:
        yield b"".join([enc(v) for enc, v in zip(encoders, row, strict=True)])


def _edge_bytes(
    table: EdgeTable, src_ids: dict[str, int], dst_ids: dict[str, int]
) -> Iterator[bytes]:
    types = [kind for _, kind in table.columns]
    if types == [int, int, int]:  # first_seen, last_seen, count: most of a graph's edges
        pack = _SPAN_EDGE.pack
        for a, b, first, last, n in table.rows:
            yield pack(src_ids[a], dst_ids[b], 4, first, 4, last, 4, n)
        return
    encoders = [_encoder(kind) for kind in types]
    ends = _ENDS.pack
    for a, b, *values in table.rows:
        yield ends(src_ids[a], dst_ids[b]) + b"".join(
            [enc(v) for enc, v in zip(encoders, values, strict=True)]
        )


def commands(graph: str, tables: Tables) -> Iterator[list[Any]]:
    """The GRAPH.BULK commands (arguments after the command name) that create `graph`."""
    first = True

    def command(token: bytes, nodes: int, edges: int) -> list[Any]:
        nonlocal first
        args: list[Any] = [graph, "BEGIN"] if first else [graph]
        first = False
        return [*args, nodes, edges, 1 if nodes else 0, 1 if edges else 0, token]

    def stream(header: bytes, entities: Iterator[bytes], is_node: bool) -> Iterator[list[Any]]:
        chunk: list[bytes] = [header]
        size, count = len(header), 0
        for entity in entities:
            if size + len(entity) > COMMAND_BYTES and count:
                yield command(b"".join(chunk), count if is_node else 0, 0 if is_node else count)
                chunk, size, count = [header], len(header), 0
            chunk.append(entity)
            size += len(entity)
            count += 1
        if count:
            yield command(b"".join(chunk), count if is_node else 0, 0 if is_node else count)

    ids: dict[Label, dict[str, int]] = {}
    next_id = 0
    for node_table in tables.nodes:
        ids[node_table.label] = {row[0]: next_id + i for i, row in enumerate(node_table.rows)}
        next_id += len(node_table.rows)
        header = _header(node_table.label.value, node_table.columns)
        yield from stream(header, _node_bytes(node_table), True)
    for edge_table in tables.edges:
        header = _header(edge_table.rel.value, edge_table.columns)
        entities = _edge_bytes(edge_table, ids[edge_table.start], ids[edge_table.end])
        yield from stream(header, entities, False)


def _command(target: Any, *args: Any) -> Any:
    # redis-py's execute_command is untyped; one typed doorway keeps the rest strict.
    return target.execute_command(*args)


def send(client: redis.Redis, args: list[Any]) -> tuple[int, int]:
    """Run one GRAPH.BULK command; (nodes, edges) it created."""
    try:
        reply = _command(client, "GRAPH.BULK", *args)
    except redis.ResponseError as e:
        raise BatchFailed(f"GRAPH.BULK refused the load of graph {args[0]!r}: {e}") from e
    text = reply.decode() if isinstance(reply, bytes) else str(reply)
    nodes, edges = text.split(", ")[:2]
    return int(nodes.split(" ")[0]), int(edges.split(" ")[0])


def bulk_insert(client: redis.Redis, graph: str, tables: Tables) -> tuple[int, int]:
    """Create `graph` (which must not exist) from the tables; returns (nodes, edges) created."""
    nodes = edges = 0
    for args in commands(graph, tables):
        n, e = send(client, args)
        nodes, edges = nodes + n, edges + e
    if (nodes, edges) != (tables.node_count, tables.edge_count):
        raise BatchFailed(
            f"GRAPH.BULK created {nodes:,} nodes and {edges:,} edges of graph {graph!r}, "
            f"expected {tables.node_count:,} and {tables.edge_count:,}"
        )
    return nodes, edges
