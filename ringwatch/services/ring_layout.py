"""Where each node of a ring's picture sits, computed here rather than in the browser.

fcose in the browser took minutes for a 500-account ring (about 600 nodes, 3,000 edges): its
spectral step builds thousands of cytoscape collections and its force step runs at least five
iterations per node. igraph's Fruchterman-Reingold in C (with its grid for large graphs) lays the
same ring out in well under a second, so the console sends positions and draws them as a preset.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import igraph as ig

# Pixels between two linked nodes (median): twice fcose's idealEdgeLength, since densely tied
# accounts sit closer than the median and drew on top of each other at 60.
EDGE_PX = 120.0
# Above this many nodes igraph's grid variant (repulsion from nearby cells only) keeps each
# iteration linear; below it the exact variant is cheap and a little tidier.
GRID_ABOVE = 300
ITERATIONS = 300


def _start(count: int) -> list[list[float]]:
    """A fixed spiral to start from. (igraph's moves still draw on its process-wide random
    generator, which detection seeds for Leiden; the console leaves it alone, so two loads of a
    ring may differ slightly.)"""
    golden = math.pi * (3 - math.sqrt(5))
    return [
        [math.sqrt(i + 1) * math.cos(i * golden), math.sqrt(i + 1) * math.sin(i * golden)]
        for i in range(count)
    ]


def positions(
    node_ids: Sequence[str], edges: Sequence[tuple[str, str]]
) -> dict[str, tuple[float, float]]:
    """x, y in pixels for each node, centred on 0, linked nodes EDGE_PX apart at the median."""
    if not node_ids:
        return {}
    index = {n: i for i, n in enumerate(node_ids)}
    pairs = [(index[s], index[t]) for s, t in edges if s in index and t in index and s != t]
    graph = ig.Graph(n=len(node_ids), edges=pairs)
    layout = graph.layout_fruchterman_reingold(
        seed=_start(len(node_ids)), niter=ITERATIONS, grid=len(node_ids) > GRID_ABOVE
    )
    coords = [(float(x), float(y)) for x, y in layout.coords]
    lengths = sorted(math.dist(coords[a], coords[b]) for a, b in pairs if coords[a] != coords[b])
    scale = EDGE_PX / lengths[len(lengths) // 2] if lengths else EDGE_PX
    cx = sum(x for x, _ in coords) / len(coords)
    cy = sum(y for _, y in coords) / len(coords)
    return {
        n: (round((coords[i][0] - cx) * scale, 1), round((coords[i][1] - cy) * scale, 1))
        for n, i in index.items()
    }


def place(graph: dict[str, Any]) -> dict[str, Any]:
    """The console's graph JSON with x and y on every node."""
    nodes = graph["nodes"]
    found = positions(
        [n["id"] for n in nodes], [(e["source"], e["target"]) for e in graph["edges"]]
    )
    for n in nodes:
        n["x"], n["y"] = found[n["id"]]
    return graph
