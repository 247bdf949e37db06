"""The one store protocol, and the engine-neutral logic both implementations share.

Engines differ only in how they run a read and how they apply a batch of statements atomically;
everything else (schema, summaries, snapshot paging) is written once, in `CypherStore`.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any, Protocol

from ringwatch.detectors.snapshot import SnapshotBuilder
from ringwatch.graph.audit_log import AuditLog
from ringwatch.graph.labels import (
    IDENTIFIER_LABEL,
    IDENTIFIER_REL,
    INDEXED_PROPERTIES,
    RELATION_REL,
    SNAPSHOT_RELS,
    UNIQUE_PROPERTIES,
    Label,
    Rel,
)
from ringwatch.graph.queries import cypher
from ringwatch.graph.review_queue import ReviewQueue
from ringwatch.graph.rows import Statement, build_statements
from ringwatch.identity import IdentifierKind
from ringwatch.vocabulary import STRONG_KINDS

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
    accounts: tuple[str, ...] = ()  # accounts the batch touched (for incremental detection)


@dataclass(frozen=True)
class AnalystResult:
    """An analyst query's answer: JSON-safe rows (nodes, relationships and paths as dicts, the
    same shape on both engines), at most the row cap of them, `truncated` if there were more."""

    columns: list[str]
    rows: list[list[Any]]
    truncated: bool
    elapsed_ms: float
    engine: str


@dataclass
class GraphSummary:
    engine: str
    nodes: dict[str, int] = field(default_factory=dict)
    edges: dict[str, int] = field(default_factory=dict)
    edge_events: dict[str, int] = field(default_factory=dict)
    top_shared: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


@dataclass(frozen=True)
class LiveFacts:
    """Everything a decision reads from the graph, read at once (`CypherStore.live_facts`).

    `account`: the account's own state (created_at, birthdate, banned_at, status, risk,
    evader_score, its best active ring's id/verdict/size/score) and `identifiers` as
    [relationship type, key, accounts] (None: no such account, or not asked for).
    `shared`: for each kind asked for, one row per identifier found: `key`,
    `accounts` (how many accounts use it), `banned` (the banned ones among the others, unless it
    is a hub) and `rings` ([id, verdict, size, score] of their active rings). `subnets`: the
    account count of each subnet looked up.
    """

    account: Row | None
    shared: dict[IdentifierKind, list[Row]]
    subnets: dict[str, int]


@dataclass(frozen=True)
class Scope:
    """An incremental run's accounts (`GraphStore.expand_scope`).

    `accounts`: what the run reads and detects over. `core`: those whose every place is inside
    `accounts` too, so whose rings the run can see whole; the run writes results for them (and
    for whoever shares a ring with them). With no bound on places the two are the same.
    `complete`: False when the expansion stopped at its account limit."""

    accounts: list[str]
    core: list[str]
    complete: bool


class GraphStore(Protocol):
    engine: str

    # Repositories of what services keep in the graph besides detection's results.
    @property
    def audit(self) -> AuditLog: ...
    @property
    def reviews(self) -> ReviewQueue: ...

    def ensure_schema(self) -> None: ...
    def ping(self) -> None: ...
    def apply_batch(self, batch: Batch) -> ApplyResult: ...
    def apply_batches(self, batches: Sequence[Batch]) -> list[ApplyResult]: ...
    def batch_applied(self, batch_id: str) -> bool: ...
    def apply_statements(
        self, batch_id: str, statements: list[Statement], *, now: int | None = None, events: int = 0
    ) -> bool: ...
    def summary(self, top: int = 5) -> GraphSummary: ...
    def stream_snapshot(
        self,
        builder: SnapshotBuilder,
        page_size: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None: ...
    def read(self, query: str, params: Mapping[str, Any] | None = None) -> list[Row]: ...
    def snapshot_of(
        self, builder: SnapshotBuilder, accounts: Sequence[str], *, banned_profiles: bool = False
    ) -> None: ...
    def expand_scope(
        self,
        seeds: Sequence[str],
        caps: Mapping[IdentifierKind, int],
        max_accounts: int,
        *,
        place_hops: int | None = None,
    ) -> Scope: ...
    def ring_histories(self, ring_ids: Sequence[str]) -> dict[str, str]: ...
    def active_rings(self, accounts: Sequence[str] | None = None) -> dict[str, list[str]]: ...
    def stored_results(self, kind: str) -> list[Row]: ...
    def ring_states(self, ring_ids: Sequence[str]) -> dict[str, Row]: ...
    def account_risks(self, accounts: Sequence[str] | None = None) -> dict[str, Row]: ...
    def changes_page(self, after: int, limit: int) -> list[Row]: ...
    def last_change_seq(self) -> int: ...
    def live_facts(
        self,
        account_id: str,
        keys: Mapping[IdentifierKind, Iterable[str]],
        subnet: str | None,
        cap: int,
        *,
        own: bool = True,
    ) -> LiveFacts: ...
    async def live_facts_on_loop(
        self,
        account_id: str,
        keys: Mapping[IdentifierKind, Iterable[str]],
        subnet: str | None,
        cap: int,
        *,
        own: bool = True,
    ) -> LiveFacts | None: ...
    def enforcement_history(self, account_id: str, limit: int = 50) -> list[Row]: ...
    def save_detection(self, run: DetectionWrite) -> None: ...
    def ring(self, ring_id: str) -> Row | None: ...
    def rings_page(self, filters: RingFilter) -> list[Row]: ...
    def account(self, account_id: str, identifiers_per_kind: int = 20) -> Row | None: ...
    def ring_links(self, ring_id: str, limit: int) -> dict[str, list[Row]]: ...
    def ring_relations(self, accounts: Sequence[str], limit: int) -> list[Row]: ...
    def identifier_accounts(
        self, kind: IdentifierKind, key: str, skip: int, limit: int
    ) -> list[Row]: ...
    def analyst_read(
        self, query: str, params: Mapping[str, Any] | None, *, timeout_s: float, row_cap: int
    ) -> AnalystResult: ...
    def query_plan(self, query: str, params: Mapping[str, Any] | None = None) -> list[str]: ...
    def clear(self) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class DetectionWrite:
    """One detection run's results, as rows for the write-back statements.

    `scope` lists every account the run covered (all accounts for a full run, the recomputed
    components for an incremental one): stale memberships, risk and evader links are removed
    only inside it, and `previous_rings` (active before the run, in scope) are retired unless
    the run produced them again.
    """

    run_id: str
    kind: str  # full | incremental
    started_at: int  # epoch ms
    rings: list[Row]  # id, score, verdict, size, evidence (JSON text)
    ring_history: list[Row]  # id, history (JSON text, the ring's whole history)
    members: list[Row]  # a, ring
    risk: list[Row]  # a, risk, ring, evader
    evader_links: list[Row]  # a, banned, score, rank, evidence (JSON text)
    scope: list[str]
    previous_rings: list[str]
    stats: str  # JSON text
    # Verdict changes by subject id (rings and accounts), written in the same atomic batch as
    # the state change they describe: the outbox of the verdict feed and webhooks.
    ring_changes: Mapping[str, list[Row]] = field(default_factory=dict)
    account_changes: Mapping[str, list[Row]] = field(default_factory=dict)


@dataclass(frozen=True)
class RingFilter:
    verdict: str | None = None
    min_size: int = 0
    max_size: int | None = None
    since: int | None = None  # epoch ms
    after: str = ""
    limit: int = 100


WRITE_BATCH = 2000
# The claim of one batch, and of several written as one unit (`apply_batches`).
CLAIM_ONE = "write/claim_batch"
CLAIM_MANY = "write/claim_batches"
# Rows per claimed write-back batch: each batch costs a round trip, a transaction (one composed
# query on the embedded engine) and a marker node, so a full run at 100k+ accounts sends few
# large ones (issue 13). Its rows are small maps; 10k of them is a few MB.
WRITE_BACK_BATCH = 10_000


SUMMARY_NODES = (
    Label.ACCOUNT,
    Label.DEVICE,
    Label.IP,
    Label.SUBNET,
    Label.EMAIL,
    Label.EMAIL_DOMAIN,
    Label.PHONE,
    Label.CARD,
    Label.PHONE_BLOCK,
    Label.PHONE_RUN,
    Label.EMAIL_STEM,
    Label.EMULATOR,
    Label.TARGET,
    Label.ENFORCEMENT,
    Label.RING,
)
# The relationships the summary counts: a snapshot's (labels.SNAPSHOT_RELS) and enforcements.
SUMMARY_RELS = (*SNAPSHOT_RELS, Rel.ENFORCED)


class CypherStore(ABC):
    engine: str = "abstract"
    # How this engine's Cypher opens an uncorrelated CALL subquery: FalkorDB knows only
    # `CALL {`, which Neo4j 5 deprecates for `CALL () {`.
    subquery: str = "CALL {"
    # Internal node ids per export page: a page is one reply of columns, so this bounds the
    # reply's size (a few MB on the densest graphs here) against the round trips.
    export_span: int = 50_000
    # The export's shapes for an engine that scans a whole label to answer an id range
    # (graph/export.py): ranges over each label's own id extent, all identifier link types of a
    # range in one query.
    export_by_label: bool = False
    export_links_in_one: bool = False

    # -- what an engine provides ---------------------------------------------------------------
    @abstractmethod
    def read(self, query: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Run a read-only query; rows as dicts."""

    def read_columns(
        self, query: str, params: Mapping[str, Any], ints: tuple[str, ...]
    ) -> dict[str, Any]:
        """A query returning one row of parallel lists (a bulk export page), each column a
        sequence; `ints` name the integer columns, which an engine may hand back as arrays."""
        rows = self.read(query, params)
        return rows[0] if rows else {}

    @abstractmethod
    def write(self, query: str, params: Mapping[str, Any] | None = None) -> None:
        """Run one write statement in its own transaction."""

    @abstractmethod
    def _apply_statements(
        self, claim: Row, statements: list[Statement], claim_query: str = CLAIM_ONE
    ) -> bool:
        """Run the claim (`claim_query` with the `claim` parameters) and the statements as one
        atomic unit; True if this call applied it."""

    @abstractmethod
    def _create_unique(self, label: Label, prop: str) -> None: ...

    @abstractmethod
    def _create_index(self, label: Label, prop: str) -> None: ...

    @abstractmethod
    def clear(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    # -- shared ----------------------------------------------------------------------------------
    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self)

    @cached_property
    def reviews(self) -> ReviewQueue:
        return ReviewQueue(self)

    def ensure_schema(self) -> None:
        for label, prop in UNIQUE_PROPERTIES:
            self._create_unique(label, prop)
        for label, prop in INDEXED_PROPERTIES:
            self._create_index(label, prop)

    def ping(self) -> None:
        self.read(cypher("read/ping"))

    def apply_statements(
        self, batch_id: str, statements: list[Statement], *, now: int | None = None, events: int = 0
    ) -> bool:
        """Run statements as one atomic batch, at most once per `batch_id` (any write path)."""
        claim = {
            "batch": batch_id,
            "now": now if now is not None else int(time.time() * 1000),
            "events": events,
        }
        return self._apply_statements(claim, statements)

    def apply_batch(self, batch: Batch) -> ApplyResult:
        applied = self.apply_statements(
            batch.id, build_statements(batch.records), events=len(batch.records)
        )
        return _result(batch, applied)

    def apply_batches(self, batches: Sequence[Batch]) -> list[ApplyResult]:
        """Apply consecutive batches as ONE write when none of them was applied before: their
        records aggregate into one set of rows (an account's or identifier's rows of several
        batches become one), and each batch's own marker is created in the same atomic unit, so
        each is still applied exactly once and a resumed file skips exactly the batches whose
        markers exist. If any marker exists already, nothing is written by the joint attempt and
        each batch goes alone through `apply_batch`."""
        if len(batches) == 1:
            return [self.apply_batch(batches[0])]
        claim = {
            "batches": [{"id": b.id, "events": len(b.records)} for b in batches],
            "now": int(time.time() * 1000),
        }
        statements = build_statements([r for b in batches for r in b.records])
        if self._apply_statements(claim, statements, CLAIM_MANY):
            return [_result(b, True) for b in batches]
        return [self.apply_batch(b) for b in batches]

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

    # -- detection results -----------------------------------------------------------------------
    def active_rings(self, accounts: Sequence[str] | None = None) -> dict[str, list[str]]:
        """Members of active rings: all of them, or those of rings touching `accounts`."""
        pairs: list[tuple[str, str]] = []
        if accounts is None:
            pairs = [(r["ring"], r["account"]) for r in self.read(cypher("read/active_rings"))]
        else:
            for chunk in _chunks(list(accounts), WRITE_BATCH):
                page = self.read_columns(cypher("read/active_rings_of"), {"ids": chunk}, ("node",))
                pairs += zip(page.get("ring", ()), page.get("account", ()), strict=True)
        rings: dict[str, set[str]] = {}
        for ring, account in pairs:
            rings.setdefault(ring, set()).add(account)
        return {ring: sorted(members) for ring, members in sorted(rings.items())}

    def stored_results(self, kind: str) -> list[Row]:
        """The latest detection results: `rings`, `evaders` or `accounts` (export rows)."""
        if kind not in ("rings", "evaders", "accounts"):
            raise ValueError(f"unknown result kind {kind!r}")
        return self.read(cypher(f"read/export_{kind}"))

    def ring_histories(self, ring_ids: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for chunk in _chunks(list(ring_ids), WRITE_BATCH):
            for r in self.read(cypher("read/ring_histories"), {"ids": chunk}):
                out[r["id"]] = r["history"] or "[]"
        return out

    def save_detection(self, run: DetectionWrite) -> None:
        """Each chunk, with the verdict changes of its subjects, is one claimed atomic batch, so a
        crashed run re-saved under the same run id writes nothing twice and loses no change."""
        now = int(time.time() * 1000)
        shared = {"run": run.run_id, "now": now}
        record_changes = cypher("detect/record_changes")
        steps: list[tuple[str, Sequence[Any], Mapping[str, list[Row]], str | None]] = [
            ("detect/upsert_rings", run.rings, run.ring_changes, "id"),
            ("detect/append_ring_history", run.ring_history, {}, None),
            ("detect/set_members", run.members, {}, None),
            ("detect/drop_stale_members", run.scope, {}, None),
            ("detect/retire_rings", run.previous_rings, run.ring_changes, ""),
            ("detect/set_account_risk", run.risk, run.account_changes, "a"),
            ("detect/clear_account_risk", run.scope, run.account_changes, ""),
            ("detect/set_evader_links", run.evader_links, {}, None),
            ("detect/drop_stale_evader_links", run.scope, {}, None),
        ]
        told: set[tuple[str, str]] = set()
        for name, items, changes, subject_key in steps:
            query = cypher(name)
            kind = "ring" if changes is run.ring_changes else "account"
            for number, chunk in enumerate(_chunks(list(items), WRITE_BACK_BATCH)):
                statements = [Statement(query, chunk, shared)]
                due: list[Row] = []
                if subject_key is not None:
                    for item in chunk:
                        subject = item[subject_key] if subject_key else item
                        if subject in changes and (kind, subject) not in told:
                            told.add((kind, subject))
                            due += changes[subject]
                if due:
                    statements.append(Statement(record_changes, due, shared))
                self.apply_statements(f"{run.run_id}:{name}:{number}", statements, now=now)
        leftovers = [
            change
            for kind, changes in (("ring", run.ring_changes), ("account", run.account_changes))
            for subject, items in sorted(changes.items())
            if (kind, subject) not in told
            for change in items
        ]
        if leftovers:
            self.apply_statements(
                f"{run.run_id}:changes", [Statement(record_changes, leftovers, shared)], now=now
            )
        self.write(
            cypher("detect/record_run"),
            {
                **shared,
                "kind": run.kind,
                "started": run.started_at,
                "accounts": len(run.scope),
                "rings": len(run.rings),
                "evaders": len({r["a"] for r in run.evader_links}),
                "stats": run.stats,
            },
        )

    def ring_states(self, ring_ids: Sequence[str]) -> dict[str, Row]:
        out: dict[str, Row] = {}
        for chunk in _chunks(sorted(set(ring_ids)), WRITE_BATCH):
            for r in self.read(cypher("read/ring_states"), {"ids": chunk}):
                out[r["id"]] = r
        return out

    def account_risks(self, accounts: Sequence[str] | None = None) -> dict[str, Row]:
        """Accounts with risk > 0: all of them, or among `accounts`."""
        if accounts is None:
            rows = self.read(cypher("read/risky_accounts"))
        else:
            rows = []
            for chunk in _chunks(sorted(set(accounts)), WRITE_BATCH):
                rows += self.read(cypher("read/account_risks"), {"ids": chunk})
        return {r["id"]: r for r in rows}

    def changes_page(self, after: int, limit: int) -> list[Row]:
        return self.read(cypher("read/changes_page"), {"after": after, "limit": limit})

    def last_change_seq(self) -> int:
        rows = self.read(cypher("read/last_change_seq"))
        return int(rows[0]["value"] or 0) if rows else 0

    # -- live features (decisions) -----------------------------------------------------------------
    def live_facts(
        self,
        account_id: str,
        keys: Mapping[IdentifierKind, Iterable[str]],
        subnet: str | None,
        cap: int,
        *,
        own: bool = True,
    ) -> LiveFacts:
        """A decision's graph facts in ONE query: one transaction and one round trip.

        For each kind in `keys`, the identifiers looked up are its keys plus, with `own`, those
        of that kind the account uses; who else uses them is expanded only for identifiers used
        by at most `cap` accounts. Subnets counted: `subnet`, plus the account's own with `own`.
        With `own` the account's row comes back too; without (the caller has it from a cache),
        the account is not read and only the given keys are looked up.
        """
        query, params = self._live_facts_query(account_id, keys, subnet, cap, own=own)
        return self._live_facts_of(self.read(query, params)[0], tuple(keys))

    async def live_facts_on_loop(
        self,
        account_id: str,
        keys: Mapping[IdentifierKind, Iterable[str]],
        subnet: str | None,
        cap: int,
        *,
        own: bool = True,
    ) -> LiveFacts | None:
        """`live_facts` sent from the running event loop, or None when this store has no way to
        (the caller then reads through `live_facts` from a thread)."""
        return None

    def _live_facts_query(
        self,
        account_id: str,
        keys: Mapping[IdentifierKind, Iterable[str]],
        subnet: str | None,
        cap: int,
        *,
        own: bool,
    ) -> tuple[str, Row]:
        # One section per kind asked for, keys or not: the query text depends only on the kinds
        # and `own`, so the engines' plan caches hold two entries for decisions, not one per
        # combination of kinds present.
        kinds = tuple(keys)
        params: Row = {"account": account_id, "own": own, "subnet": subnet, "cap": cap}
        for kind in kinds:
            params[f"keys_{kind.value}"] = sorted(set(keys[kind]))
        return live_facts_query(kinds, self.subquery, own=own), params

    @staticmethod
    def _live_facts_of(row: Row, kinds: tuple[IdentifierKind, ...]) -> LiveFacts:
        account = row["account"]
        if account is not None:
            account = dict(account)
            account["identifiers"] = [x for x in account["identifiers"] if x and x[0] is not None]
        shared: dict[IdentifierKind, list[Row]] = {}
        for kind in kinds:
            hits = [dict(hit) for hit in row[kind.value]]
            for hit in hits:
                hit["rings"] = [r for r in hit["rings"] if r and r[0] is not None]
            shared[kind] = hits
        subnets = {key: int(accounts or 0) for key, accounts in row["subnets"]}
        return LiveFacts(account=account, shared=shared, subnets=subnets)

    def enforcement_history(self, account_id: str, limit: int = 50) -> list[Row]:
        return self.read(cypher("read/enforcement_history"), {"id": account_id, "limit": limit})

    def ring(self, ring_id: str) -> Row | None:
        rows = self.read(cypher("read/ring"), {"id": ring_id})
        if not rows or rows[0]["id"] is None:
            return None
        row = rows[0]
        row["members"] = [m for m in row["members"] if m.get("id") is not None]
        return row

    def rings_page(self, filters: RingFilter) -> list[Row]:
        return self.read(
            cypher("read/rings_page"),
            {
                "verdict": filters.verdict,
                "min_size": filters.min_size,
                "max_size": filters.max_size,
                "since": filters.since,
                "after": filters.after,
                "limit": filters.limit,
            },
        )

    def account(self, account_id: str, identifiers_per_kind: int = 20) -> Row | None:
        rows = self.read(cypher("read/account"), {"id": account_id})
        if not rows:
            return None
        row = rows[0]
        row["rings"] = [g for g in row["rings"] if g.get("id") is not None]
        row["evader_matches"] = [m for m in row["evader_matches"] if m.get("banned") is not None]
        identifiers: dict[str, list[Row]] = {}
        for kind in IdentifierKind:
            query = cypher(
                "read/account_identifiers", LABEL=IDENTIFIER_LABEL[kind], REL=IDENTIFIER_REL[kind]
            )
            found = self.read(query, {"id": account_id, "limit": identifiers_per_kind})
            if found:
                identifiers[kind.value] = found
        row["identifiers"] = identifiers
        return row

    def ring_links(self, ring_id: str, limit: int) -> dict[str, list[Row]]:
        """Per identifier kind, (member, shared identifier) pairs, at most `limit` per kind."""
        links: dict[str, list[Row]] = {}
        for kind in IdentifierKind:
            query = cypher(
                "read/ring_links", LABEL=IDENTIFIER_LABEL[kind], REL=IDENTIFIER_REL[kind]
            )
            found = self.read(query, {"id": ring_id, "limit": limit})
            if found:
                links[kind.value] = found
        return links

    def ring_relations(self, accounts: Sequence[str], limit: int) -> list[Row]:
        """Behavioural links among `accounts` (a ring's members)."""
        query = cypher("read/ring_relations", REL=tuple(RELATION_REL.values()))
        return self.read(query, {"ids": list(accounts), "limit": limit})

    def identifier_accounts(
        self, kind: IdentifierKind, key: str, skip: int, limit: int
    ) -> list[Row]:
        query = cypher(
            "read/identifier_accounts", LABEL=IDENTIFIER_LABEL[kind], REL=IDENTIFIER_REL[kind]
        )
        return self.read(query, {"key": key, "skip": skip, "limit": limit})

    # -- snapshots ---------------------------------------------------------------------------------
    def stream_snapshot(
        self,
        builder: SnapshotBuilder,
        page_size: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Every account with all its links, relations and engagements, as one bulk export
        (`export.export_snapshot`): one query per label and relationship type per range of
        `page_size` internal node ids (default `export_span`), each returning one row of
        columns. Linear in nodes plus edges."""
        from ringwatch.graph.export import export_snapshot

        builder.add_columns(export_snapshot(self, page_size or self.export_span, progress))

    def snapshot_of(
        self,
        builder: SnapshotBuilder,
        accounts: Sequence[str],
        *,
        page_size: int = 5000,
        banned_profiles: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """The given accounts only, with all their links (an incremental run's scope), read as
        columns (`scope_export`); with `banned_profiles`, also every banned account's profile,
        so new accounts in scope can be matched to all of them."""
        from ringwatch.graph.scope_export import export_scope

        builder.add_columns(
            export_scope(
                self, accounts, chunk=page_size, banned_profiles=banned_profiles, progress=progress
            )
        )

    def expand_scope(
        self,
        seeds: Sequence[str],
        caps: Mapping[IdentifierKind, int],
        max_accounts: int,
        *,
        place_hops: int | None = None,
    ) -> Scope:
        """Accounts reachable from `seeds` through identifiers under their kind's cap: what an
        incremental run recomputes (`Scope`).

        Personal identifiers (`STRONG_KINDS`: devices, phones, cards, mailboxes) are followed
        to the end. Places (addresses, subnets, number blocks, small mail domains) are followed
        `place_hops` times at most: a home address shared by a few and an office's shared by
        twenty chain every household of a town into one component, so without a bound the scope
        grows with the deployment instead of with the batch. None: no bound (the whole
        component)."""
        queries = {
            kind: cypher(
                "read/expand_scope", LABEL=IDENTIFIER_LABEL[kind], REL=IDENTIFIER_REL[kind]
            )
            for kind in caps
        }
        personal = {k: q for k, q in queries.items() if k in STRONG_KINDS}
        places = {k: q for k, q in queries.items() if k not in STRONG_KINDS}

        def neighbours(accounts: list[str], kinds: Mapping[IdentifierKind, str]) -> set[str]:
            found: set[str] = set()
            for chunk in _chunks(accounts, WRITE_BATCH):
                for kind, query in kinds.items():
                    page = self.read_columns(query, {"ids": chunk, "cap": caps[kind]}, ("node",))
                    found.update(page.get("id", ()))
            return found

        seen = set(seeds)
        core: set[str] | None = None
        hops = 0
        # Accounts whose places are not followed yet: everything reached since the last hop.
        unvisited = sorted(seen)
        frontier = list(unvisited)
        while True:
            while frontier:
                found = neighbours(frontier, personal) - seen
                seen |= found
                unvisited += found
                frontier = sorted(found)
                if len(seen) > max_accounts:
                    return Scope(sorted(seen), sorted(core or seen), complete=False)
            if place_hops is not None and hops == place_hops - 1:
                core = set(seen)
            if place_hops is not None and hops == place_hops:
                break
            found = neighbours(sorted(unvisited), places) - seen
            if not found:
                break
            hops += 1
            seen |= found
            unvisited = frontier = sorted(found)
            if len(seen) > max_accounts:
                return Scope(sorted(seen), sorted(core or seen), complete=False)
        return Scope(sorted(seen), sorted(core if core is not None else seen), complete=True)


_KEYS_PARAM = re.compile(r"\$keys\b")


@cache
def live_facts_query(
    kinds: tuple[IdentifierKind, ...], subquery: str = "CALL {", *, own: bool = True
) -> str:
    """The composed query of `live_facts`: the account head (with `own`; else a null account),
    then one uncorrelated CALL { } section per identifier kind (its label and relationship type
    from the enums, its keys in `$keys_<kind>`, its hits renamed to `<kind>`), then the subnet
    section. Each section returns exactly one row, so the query does. `subquery` opens a section
    (`CypherStore.subquery`)."""
    parts = [cypher("live/facts_account" if own else "live/facts_no_account")]
    carried = ["account"]
    for kind in kinds:
        section = cypher(
            "live/facts_shared", LABEL=IDENTIFIER_LABEL[kind], REL=IDENTIFIER_REL[kind]
        )
        section = _KEYS_PARAM.sub(f"$keys_{kind.value}", section)
        parts.append(f"{subquery}\n{section}\n}}")
        parts.append(f"WITH {', '.join(carried)}, hits AS {kind.value}")
        carried.append(kind.value)
    subnet = cypher(
        "live/facts_subnet",
        LABEL=IDENTIFIER_LABEL[IdentifierKind.SUBNET],
        REL=IDENTIFIER_REL[IdentifierKind.SUBNET],
    )
    parts.append(f"{subquery}\n{subnet}\n}}")
    parts.append(f"RETURN {', '.join(carried)}, subnets")
    return "\n".join(parts)


def _result(batch: Batch, applied: bool) -> ApplyResult:
    touched = {r["a"] for r in batch.records} | {r["other"] for r in batch.records if "other" in r}
    accounts = tuple(sorted(touched))
    return ApplyResult(
        batch_id=batch.id, applied=applied, events=len(batch.records), accounts=accounts
    )


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
