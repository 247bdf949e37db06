"""The only package that talks to a graph database: one protocol, two engines."""

from ringwatch.graph.store import ApplyResult, Batch, GraphStore, GraphSummary

__all__ = ["ApplyResult", "Batch", "GraphStore", "GraphSummary"]
