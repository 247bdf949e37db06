"""The ring picture's positions (services/ring_layout.py), without a browser."""

from __future__ import annotations

import math
import statistics

from ringwatch.services import ring_layout


def farm(accounts: int) -> tuple[list[str], list[tuple[str, str]]]:
    """Accounts tied through a few devices and cards, the shape of a device farm's ring."""
    nodes = [f"a:{i}" for i in range(accounts)]
    edges = []
    for i in range(accounts):
        for kind, groups in (("device", 20), ("card", 7)):
            ident = f"i:{kind}:{i % groups}"
            if ident not in nodes:
                nodes.append(ident)
            edges.append((f"a:{i}", ident))
    return nodes, edges


def test_every_node_is_placed_centred_at_the_scale_of_an_edge() -> None:
    for accounts in (30, 400):  # the exact and the grid variants
        nodes, edges = farm(accounts)
        placed = ring_layout.positions(nodes, edges)
        assert set(placed) == set(nodes)
        assert len(set(placed.values())) == len(nodes)  # no two nodes on one spot
        xs, ys = zip(*placed.values(), strict=True)
        spread = max(xs) - min(xs)
        assert abs(statistics.fmean(xs)) < spread / 100
        assert abs(statistics.fmean(ys)) < spread / 100
        lengths = [math.dist(placed[s], placed[t]) for s, t in edges]
        assert abs(statistics.median(lengths) - ring_layout.EDGE_PX) < ring_layout.EDGE_PX / 10


def test_linked_nodes_sit_closer_than_unlinked_ones() -> None:
    nodes, edges = farm(60)
    placed = ring_layout.positions(nodes, edges)
    linked = statistics.median(math.dist(placed[s], placed[t]) for s, t in edges)
    pairs = set(edges)
    unlinked = statistics.median(
        math.dist(placed[a], placed[b])
        for a in nodes
        for b in nodes
        if a < b and (a, b) not in pairs and (b, a) not in pairs
    )
    assert linked < unlinked


def test_edges_to_unknown_nodes_are_ignored() -> None:
    nodes, edges = farm(50)
    assert set(ring_layout.positions(nodes, [*edges, ("a:1", "i:gone:0")])) == set(nodes)
    assert ring_layout.positions([], []) == {}
    assert ring_layout.positions(["a:alone"], []) == {"a:alone": (0.0, 0.0)}
