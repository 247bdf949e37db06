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

import contextlib
import queue
import struct
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import redis

from ringwatch.errors import BatchFailed, Invalid
from ringwatch.graph.bulk.graph import Column, EdgeTable, NodeTable, Tables
from ringwatch.graph.labels import Label

# Per command; the engine parses a command whole before it answers, so this also bounds the
# reply time of one call. Redis refuses arguments past 512 MB (proto-max-bulk-len).
COMMAND_BYTES = 48 << 20
# Commands packed ahead of the one the engine is running. The engine parses and applies a
# command while this process waits on its reply with the GIL released, so packing the next
# one then overlaps them: at 1M accounts the two were 28 s and 27 s of one 56 s stage.
PACKED_AHEAD = 2
_NONE = b"\x00"
_LONG = struct.Struct("<Bq")
_ENDS = struct.Struct("<QQ")
_SPAN_EDGE = struct.Struct("<QQBqBqBq")


def _text(value: str) -> bytes:
    data = value.encode()
    if b"\x00" in data:
        raise Invalid(f"a value holds a NUL character, which GRAPH.BULK cannot carry: {value!r}")
    return b"\x03" + data + b"\x00"


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
    for block in _blocks(table.rows):
        yield from map(b"".join, zip(*_columns(types, block, 0), strict=True))


def _edge_bytes(
    table: EdgeTable, src_ids: dict[str, int], dst_ids: dict[str, int]
) -> Iterator[bytes]:
    types = [kind for _, kind in table.columns]
    if types == [int, int, int]:  # first_seen, last_seen, count: most of a graph's edges
        pack = _SPAN_EDGE.pack
        for a, b, first, last, n in table.rows:
            yield pack(src_ids[a], dst_ids[b], 4, first, 4, last, 4, n)
        return
    ends = _ENDS.pack
    for block in _blocks(table.rows):
        head = [ends(src_ids[row[0]], dst_ids[row[1]]) for row in block]
        yield from map(b"".join, zip(head, *_columns(types, block, 2), strict=True))


# Rows packed per block, column by column: one comprehension per column instead of a function
# call per value (the accounts' 20 columns were most of GRAPH.BULK's packing at 1M accounts),
# with the encoded columns of one block only in memory at a time.
_BLOCK_ROWS = 20_000


def _blocks(rows: Sequence[tuple[Any, ...]]) -> Iterator[Sequence[tuple[Any, ...]]]:
    for lo in range(0, len(rows), _BLOCK_ROWS):
        yield rows[lo : lo + _BLOCK_ROWS]


def _columns(
    types: Sequence[type], rows: Sequence[tuple[Any, ...]], skip: int
) -> list[list[bytes]]:
    """Each column's values as the wire format encodes them (module docstring), for the columns
    after the first `skip` of each row."""
    out = []
    for i, kind in enumerate(types, start=skip):
        values = [row[i] for row in rows]
        if kind is int:
            pack = _LONG.pack
            out.append([_NONE if v is None else pack(4, v) for v in values])
            continue
        texts = [v for v in values if v is not None]
        if "\x00" in "".join(texts):
            for v in texts:
                _text(v)  # raises, naming the value
        out.append([_NONE if v is None else b"\x03" + v.encode() + b"\x00" for v in values])
    return out


# Entities packed by numpy in one go, fields as the engine reads them (unaligned).
_SPAN_EDGE_DTYPE = np.dtype(
    [("src", "<u8"), ("dst", "<u8"), ("t1", "u1"), ("first", "<i8"), ("t2", "u1"),
     ("last", "<i8"), ("t3", "u1"), ("count", "<i8")]
)  # fmt: skip
_BARE_EDGE_DTYPE = np.dtype([("src", "<u8"), ("dst", "<u8")])
_INT = 4


class _NodeIds:
    """Engine ids of one label's nodes: by key (a dict, built only if some edge table needs
    it) and by the graph's integer code (sorted arrays, when the table carries codes)."""

    def __init__(self, table: NodeTable, base: int) -> None:
        self._table, self._base = table, base
        self._by_key: dict[str, int] | None = None
        self._codes: np.ndarray | None = None
        self._ids: np.ndarray | None = None
        if table.codes is not None:
            have = np.flatnonzero(table.codes >= 0)
            order = np.argsort(table.codes[have], kind="stable")
            self._codes = table.codes[have][order]
            self._ids = have[order].astype(np.uint64) + np.uint64(base)

    def by_key(self) -> dict[str, int]:
        if self._by_key is None:
            base = self._base
            self._by_key = {row[0]: base + i for i, row in enumerate(self._table.rows)}
        return self._by_key

    def by_code(self, codes: np.ndarray) -> np.ndarray | None:
        """Engine ids of nodes given by code, or None if one of them has no code here."""
        if self._codes is None or self._ids is None or self._codes.shape[0] == 0:
            return None if codes.shape[0] else np.empty(0, np.uint64)
        pos = np.minimum(np.searchsorted(self._codes, codes), self._codes.shape[0] - 1)
        if not np.array_equal(self._codes[pos], codes):
            return None
        found: np.ndarray = self._ids[pos]
        return found


def _coded_edges(
    table: EdgeTable, starts: _NodeIds, ends: _NodeIds
) -> tuple[int, np.ndarray] | None:
    """(entity size, entities as one numpy array) for an edge table given as integer columns,
    or None when it must be packed row by row."""
    if table.coded is None:
        return None
    types = [kind for _, kind in table.columns]
    if types == [int, int, int]:
        dtype = _SPAN_EDGE_DTYPE
    elif not types:
        dtype = _BARE_EDGE_DTYPE
    else:
        return None
    src = starts.by_code(table.coded[0])
    dst = ends.by_code(table.coded[1])
    if src is None or dst is None:
        return None
    out = np.empty(src.shape[0], dtype)
    out["src"], out["dst"] = src, dst
    if types:
        out["t1"] = out["t2"] = out["t3"] = _INT
        out["first"], out["last"], out["count"] = table.coded[2:5]
    return dtype.itemsize, out


def _fixed_key_nodes(table: NodeTable) -> tuple[int, np.ndarray] | None:
    """(entity size, entities) for a graph's identifier nodes (key, accounts; `codes` set)
    whose keys are ASCII of one length, with every count set (pseudonymised digests: most of
    a graph's nodes), or None when they must be packed row by row."""
    if table.codes is None or [kind for _, kind in table.columns] != [str, int]:
        return None
    if not table.rows:
        return None
    keys = [row[0] for row in table.rows]
    counts = [row[1] for row in table.rows]
    if None in counts:
        return None
    width = max(map(len, keys))
    joined = "".join(keys)
    # No key longer than `width` and `width` per key in all: every key is exactly `width`.
    if width == 0 or len(joined) != width * len(keys) or not joined.isascii():
        return None
    if "\x00" in joined:
        return None  # the row-by-row path refuses it with the reason
    dtype = np.dtype(
        [("t1", "u1"), ("key", f"S{width}"), ("nul", "u1"), ("t2", "u1"), ("n", "<i8")]
    )
    out = np.empty(len(keys), dtype)
    out["t1"], out["nul"], out["t2"] = 3, 0, _INT
    out["key"] = np.frombuffer(joined.encode(), dtype=f"S{width}")
    out["n"] = np.asarray(counts, np.int64)
    return dtype.itemsize, out


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

    def packed(
        header: bytes, size: int, entities: np.ndarray, is_node: bool
    ) -> Iterator[list[Any]]:
        per = max(1, (COMMAND_BYTES - len(header)) // size)
        for lo in range(0, entities.shape[0], per):
            part = entities[lo : lo + per]
            n = part.shape[0]
            yield command(header + part.tobytes(), n if is_node else 0, 0 if is_node else n)

    ids: dict[Label, _NodeIds] = {}
    next_id = 0
    for node_table in tables.nodes:
        ids[node_table.label] = _NodeIds(node_table, next_id)
        next_id += len(node_table.rows)
        header = _header(node_table.label.value, node_table.columns)
        fixed = _fixed_key_nodes(node_table)
        if fixed is not None:
            yield from packed(header, *fixed, True)
            continue
        yield from stream(header, _node_bytes(node_table), True)
    for edge_table in tables.edges:
        header = _header(edge_table.rel.value, edge_table.columns)
        starts, ends = ids[edge_table.start], ids[edge_table.end]
        coded = _coded_edges(edge_table, starts, ends)
        if coded is not None:
            yield from packed(header, *coded, False)
            continue
        entities = _edge_bytes(edge_table, starts.by_key(), ends.by_key())
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
    for args in ahead(commands(graph, tables), PACKED_AHEAD):
        n, e = send(client, args)
        nodes, edges = nodes + n, edges + e
    if (nodes, edges) != (tables.node_count, tables.edge_count):
        raise BatchFailed(
            f"GRAPH.BULK created {nodes:,} nodes and {edges:,} edges of graph {graph!r}, "
            f"expected {tables.node_count:,} and {tables.edge_count:,}"
        )
    return nodes, edges


_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def ahead(items: Iterable[Any], depth: int) -> Iterator[Any]:
    """`items` in order, produced by a thread of their own up to `depth` ahead of the caller.
    An error while producing is raised here, where its item would have come; a caller that
    stops early (an error of its own) stops the thread before returning."""
    buffer: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stopped = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stopped.is_set():
                    try:
                        buffer.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stopped.is_set():
                    return
            buffer.put(_DONE)
        except BaseException as e:  # handed to the consumer, which raises it
            buffer.put(_Failed(e))

    producer = threading.Thread(target=produce, name="ringwatch-bulk-pack", daemon=True)
    producer.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stopped.set()
        while producer.is_alive():
            # Unblock a producer waiting on a full buffer; what it holds is dropped.
            with contextlib.suppress(queue.Empty):
                buffer.get(timeout=0.1)
        producer.join()
