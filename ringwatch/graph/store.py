"""The one store protocol, and the engine-neutral logic both implementations share.

Engines differ only in how they run a read and how they apply a batch of statements atomically;
everything else (schema, summaries, snapshot paging) is written once, in `CypherStore`.
"""

from __future__ import annotations

import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ringwatch.detectors.snapshot import SnapshotBuilder
from ringwatch.graph.labels import (
    IDENTIFIER_LABEL,
    IDENTIFIER_REL,
    KEY_PROPERTY,
    RELATION_REL,
    Label,
    Rel,
)
from ringwatch.graph.queries import cypher
from ringwatch.graph.rows import Statement, build_statements
from ringwatch.identity import IdentifierKind

Row = dict[str, Any]


@dataclass(frozen=True)
class Batch:
    """Normalised records applied together, exactly once, under a stable id."""

    id: str
    records: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class ApplyResult:
    batch_id: str
    applied: bool  # False: the batch had been applied before; nothing was written
    events: int


@dataclass
class GraphSummary:
    engine: str
    nodes: dict[str, int] = field(default_factory=dict)
    edges: dict[str, int] = field(default_factory=dict)
    edge_events: dict[str, int] = field(default_factory=dict)
    top_shared: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


class GraphStore(Protocol):
    engine: str

    def ensure_schema(self) -> None: ...
    def ping(self) -> None: ...
    def apply_batch(self, batch: Batch) -> ApplyResult: ...
    def batch_applied(self, batch_id: str) -> bool: ...
    def summary(self, top: int = 5) -> GraphSummary: ...
    def stream_snapshot(
        self,
        builder: SnapshotBuilder,
        page_size: int = 5000,
        progress: Callable[[int], None] | None = None,
    ) -> None: ...
    def read(self, query: str, params: Mapping[str, Any] | None = None) -> list[Row]: ...
    def clear(self) -> None: ...
    def close(self) -> None: ...


SUMMARY_NODES = (
    Label.ACCOUNT,
    Label.DEVICE,
    Label.IP,
    Label.SUBNET,
    Label.EMAIL,
    Label.EMAIL_DOMAIN,
    Label.PHONE,
    Label.CARD,
    Label.TARGET,
    Label.ENFORCEMENT,
    Label.RING,
)
SUMMARY_RELS = (*IDENTIFIER_REL.values(), *RELATION_REL.values(), Rel.ENGAGED, Rel.ENFORCED)


class CypherStore(ABC):
    engine: str = "abstract"

    # -- what an engine provides ---------------------------------------------------------------
    @abstractmethod
    def read(self, query: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Run a read-only query; rows as dicts."""

    @abstractmethod
    def _apply_statements(self, claim: Row, statements: list[Statement]) -> bool:
        """Run the claim and the statements as one atomic unit; True if this call applied it."""

    @abstractmethod
    def _create_unique(self, label: Label, prop: str) -> None: ...

    @abstractmethod
    def clear(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    # -- shared ----------------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        for label, prop in KEY_PROPERTY.items():
            self._create_unique(label, prop)

    def ping(self) -> None:
        self.read(cypher("read/ping"))

    def apply_batch(self, batch: Batch) -> ApplyResult:
        claim = {
            "batch": batch.id,
            "token": uuid.uuid4().hex,
            "now": int(time.time() * 1000),
            "events": len(batch.records),
        }
        applied = self._apply_statements(claim, build_statements(batch.records))
        return ApplyResult(batch_id=batch.id, applied=applied, events=len(batch.records))

    def batch_applied(self, batch_id: str) -> bool:
        rows = self.read(cypher("read/batch_applied"), {"batch": batch_id})
        return bool(rows and rows[0]["applied"])

    def summary(self, top: int = 5) -> GraphSummary:
        out = GraphSummary(engine=self.engine)
        for label in SUMMARY_NODES:
            out.nodes[label.value] = int(self.read(cypher("read/count_nodes", LABEL=label))[0]["n"])
        for rel in SUMMARY_RELS:
            row = self.read(cypher("read/count_rels", REL=rel))[0]
            if row["n"]:
                out.edges[rel.value] = int(row["n"])
                out.edge_events[rel.value] = int(row["events"] or 0)
        for kind, label in IDENTIFIER_LABEL.items():
            rows = self.read(cypher("read/top_shared", LABEL=label), {"limit": top})
            out.top_shared[kind.value] = [(r["key"], int(r["accounts"])) for r in rows]
        return out

    def stream_snapshot(
        self,
        builder: SnapshotBuilder,
        page_size: int = 5000,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Page through accounts by id; for each page pull its links, relations, engagements."""
        after = ""
        accounts_q = cypher("read/snapshot_accounts")
        link_qs = {
            kind: cypher(
                "read/snapshot_links", LABEL=IDENTIFIER_LABEL[kind], REL=IDENTIFIER_REL[kind]
            )
            for kind in IdentifierKind
        }
        rel_qs = {
            kind: cypher("read/snapshot_relations", REL=rel) for kind, rel in RELATION_REL.items()
        }
        engage_q = cypher("read/snapshot_engagements")
        while True:
            page = self.read(accounts_q, {"after": after, "limit": page_size})
            if not page:
                return
            ids = [r["id"] for r in page]
            for r in page:
                builder.add_account(r["id"], _ms_to_s(r))
            for kind, query in link_qs.items():
                for r in self.read(query, {"ids": ids}):
                    builder.add_link(
                        r["a"], kind.value, r["key"], int(r["n"]), int(r["first"]) // 1000
                    )
            for relation, query in rel_qs.items():
                for r in self.read(query, {"ids": ids}):
                    builder.add_relation(r["a"], r["b"], relation)
            for r in self.read(engage_q, {"ids": ids}):
                builder.add_engagement(r["a"], r["target"], r["action"], int(r["first"]) // 1000)
            if progress:
                progress(len(page))
            after = ids[-1]


def _ms_to_s(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for name in ("created_at", "first_seen", "banned_at"):
        if out.get(name) is not None:
            out[name] = int(out[name]) // 1000
    return out
