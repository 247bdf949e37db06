"""A whole store as sorted plain data, for node-by-node and edge-by-edge comparisons."""

from __future__ import annotations

from typing import Any

import orjson

from ringwatch.graph.labels import KEY_PROPERTY, Label
from ringwatch.graph.queries import cypher
from ringwatch.graph.store import GraphStore

# Set when a batch is applied: the time of the run, not a fact of the events.
VOLATILE = {Label.BATCH.value: ("applied_at",)}


def _node(labels: list[str], props: dict[str, Any]) -> tuple[str, str]:
    (label,) = labels
    return label, str(props[KEY_PROPERTY[Label(label)]])


def _props(label: str, props: dict[str, Any]) -> bytes:
    kept = {k: v for k, v in props.items() if k not in VOLATILE.get(label, ())}
    return orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)


def dump(store: GraphStore) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    nodes = sorted(
        (*_node(r["labels"], r["props"]), _props(r["labels"][0], r["props"]))
        for r in store.read(cypher("read/dump_nodes"))
    )
    edges = sorted(
        (
            r["type"],
            *_node(r["a_labels"], r["a"]),
            *_node(r["b_labels"], r["b"]),
            _props(r["type"], r["props"]),
        )
        for r in store.read(cypher("read/dump_edges"))
    )
    return nodes, edges
