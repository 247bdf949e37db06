"""Normalised records -> the final nodes and edges, as tables for a bulk tool.

Ingest's write statements (`cypher/write/*.cypher`) all commute: counts add, first/last times
take their min/max, each profile field keeps its newest value by its own time (ties to the
greater value), identifier `accounts` counts distinct accounts. So the graph after every batch
is a fold of all records, computed here once in memory instead of per batch in the engine.
Account-identifier links, most of a graph's edges (16.4M for 1M accounts), are kept as
integer-coded columns (`_Links`), not as a dict of string pairs: ~30 bytes an edge instead of
~300, and the workers' graphs merge by a sort instead of a Python loop per edge.
The one order-dependent part is an account's enforcement state (`enforce.cypher`: within a
batch by (time, event id), a later batch winning ties, `banned_at` carried through suspends);
it is replayed batch by batch in the order ingest would apply them. Every rule here restates a
statement's; `tests/services/test_bulk_load.py` compares the result with ingest's node by node
and edge by edge on both engines, so the two cannot drift apart unseen.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np

from ringwatch.graph.labels import (
    IDENTIFIER_LABEL,
    IDENTIFIER_REL,
    RELATION_REL,
    Label,
    Rel,
)
from ringwatch.graph.rows import PROFILE_FIELDS, SKETCH_FIELDS
from ringwatch.identity import IdentifierKind, sketch_to_text
from ringwatch.records import relation_edge

_SKETCHES = frozenset(SKETCH_FIELDS)
_KINDS = {kind.value: kind for kind in IdentifierKind}
_PARENT_OF = {IdentifierKind.IP: Label.SUBNET, IdentifierKind.EMAIL: Label.EMAIL_DOMAIN}

Column = tuple[str, type]  # property name, str or int
SPAN: tuple[Column, ...] = (("first_seen", int), ("last_seen", int), ("count", int))
ACCOUNT_COLUMNS: tuple[Column, ...] = (
    ("id", str),
    ("first_seen", int),
    ("last_seen", int),
    ("events", int),
    ("created_at", int),
    *((name, str) for name in PROFILE_FIELDS),
    *((f"{name}_ts", int) for name in PROFILE_FIELDS),
    ("status", str),
    ("status_ts", int),
    ("banned_at", int),
)


@dataclass(frozen=True)
class NodeTable:
    """Nodes of one label; the first column is the label's unique key. None: no property.

    `codes`: the graph's integer code of each row's key, in row order, for the first
    `len(codes)` rows (-1: a key without one), so edges given as codes can find their ends
    without a dict of millions of strings."""

    label: Label
    columns: tuple[Column, ...]
    rows: list[tuple[Any, ...]]
    codes: np.ndarray | None = None


@dataclass(frozen=True)
class EdgeTable:
    """Edges of one type between two labels; rows are (start key, end key, *properties).

    `coded`: the same edges as columns, when every value is an integer: start codes, end codes
    (see `NodeTable.codes`), then one int64 array per property column. A bulk target may
    pack these directly instead of reading the rows."""

    rel: Rel
    start: Label
    end: Label
    columns: tuple[Column, ...]
    rows: Sequence[tuple[Any, ...]]
    coded: tuple[np.ndarray, ...] | None = None


@dataclass(frozen=True)
class Tables:
    nodes: list[NodeTable]
    edges: list[EdgeTable]

    @property
    def node_count(self) -> int:
        return sum(len(t.rows) for t in self.nodes)

    @property
    def edge_count(self) -> int:
        return sum(len(t.rows) for t in self.edges)


# Observations of one kind held as raw columns before they are folded into the aggregate: a
# few tens of MB, so folding is rare and the aggregate stays sorted and small.
COMPACT_AT = 1 << 21
_LOW = np.int64(0xFFFFFFFF)


class _Links:
    """The links of one identifier kind: (account code, identifier code) pairs, each with its
    first and last time and count. Observations are appended to flat arrays and folded into
    the aggregate, sorted by pair, every `COMPACT_AT` of them (min, max and sum per pair,
    the rules of `link_identifier.cypher`)."""

    def __init__(self) -> None:
        self._account = array("q")
        self._key = array("q")
        self._ts = array("q")
        self.pair = np.empty(0, np.int64)  # account code << 32 | identifier code, sorted
        self.first = np.empty(0, np.int64)
        self.last = np.empty(0, np.int64)
        self.count = np.empty(0, np.int64)

    def see(self, account: int, key: int, ts: int) -> None:
        self._account.append(account)
        self._key.append(key)
        self._ts.append(ts)
        if len(self._ts) >= COMPACT_AT:
            self.compact()

    def compact(self) -> None:
        if not self._ts:
            return
        pair = (np.frombuffer(self._account, np.int64) << 32) | np.frombuffer(self._key, np.int64)
        ts = np.frombuffer(self._ts, np.int64).copy()
        self._account, self._key, self._ts = array("q"), array("q"), array("q")
        self._fold(pair, ts, ts, np.ones(ts.shape[0], np.int64))

    def _fold(
        self, pair: np.ndarray, first: np.ndarray, last: np.ndarray, count: np.ndarray
    ) -> None:
        pair = np.concatenate([self.pair, pair])
        first = np.concatenate([self.first, first])
        last = np.concatenate([self.last, last])
        count = np.concatenate([self.count, count])
        order = np.argsort(pair, kind="stable")
        pair = pair[order]
        starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
        self.pair = pair[starts]
        self.first = np.minimum.reduceat(first[order], starts)
        self.last = np.maximum.reduceat(last[order], starts)
        self.count = np.add.reduceat(count[order], starts)

    def absorb(self, other: _Links, remap: np.ndarray) -> None:
        """Fold `other`'s links in, its codes translated by `remap` (its code -> ours)."""
        other.compact()
        self.compact()
        if other.pair.shape[0] == 0:
            return
        pair = (remap[other.pair >> 32] << 32) | remap[other.pair & _LOW]
        self._fold(pair, other.first, other.last, other.count)

    def __len__(self) -> int:
        self.compact()
        return int(self.pair.shape[0])


class _SpanRows(Sequence[tuple[Any, ...]]):
    """Rows (account id, identifier key, first, last, count) made from a `_Links`' columns
    as they are read: a table of millions of edges never exists as millions of tuples."""

    _CHUNK = 1 << 16

    def __init__(self, names: list[str], links: _Links) -> None:
        links.compact()
        self._names = names
        self._pair, self._first = links.pair, links.first
        self._last, self._count = links.last, links.count

    def __len__(self) -> int:
        return int(self._pair.shape[0])

    def columns(self) -> tuple[np.ndarray, ...]:
        """Account codes, identifier codes, first, last, count (see `EdgeTable.coded`)."""
        return self._pair >> 32, self._pair & _LOW, self._first, self._last, self._count

    def _rows(self, lo: int, hi: int) -> list[tuple[Any, ...]]:
        names = self._names
        pair = self._pair[lo:hi]
        return list(
            zip(
                [names[c] for c in (pair >> 32).tolist()],
                [names[c] for c in (pair & _LOW).tolist()],
                self._first[lo:hi].tolist(),
                self._last[lo:hi].tolist(),
                self._count[lo:hi].tolist(),
                strict=True,
            )
        )

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        for lo in range(0, len(self), self._CHUNK):
            yield from self._rows(lo, lo + self._CHUNK)

    @overload
    def __getitem__(self, index: int) -> tuple[Any, ...]: ...
    @overload
    def __getitem__(self, index: slice) -> list[tuple[Any, ...]]: ...
    def __getitem__(self, index: int | slice) -> tuple[Any, ...] | list[tuple[Any, ...]]:
        if isinstance(index, slice):
            lo, hi, step = index.indices(len(self))
            if step != 1:
                return self._rows(0, len(self))[index]
            return self._rows(lo, hi)
        n = len(self)
        if not -n <= index < n:
            raise IndexError(index)
        i = index % n
        return self._rows(i, i + 1)[0]


def _merge_spans(into: dict[Any, list[int]], spans: dict[Any, list[int]]) -> None:
    for key, theirs in spans.items():
        mine = into.get(key)
        if mine is None:
            into[key] = theirs
        else:
            if theirs[0] < mine[0]:
                mine[0] = theirs[0]
            if theirs[1] > mine[1]:
                mine[1] = theirs[1]
            mine[2] += theirs[2]


def _see(spans: dict[Any, list[int]], key: Any, ts: int) -> None:
    span = spans.get(key)
    if span is None:
        spans[key] = [ts, ts, 1]
    else:
        if ts < span[0]:
            span[0] = ts
        if ts > span[1]:
            span[1] = ts
        span[2] += 1


class BulkGraph:
    """Accumulates batches of fresh (deduplicated) records, in the order ingest applies them."""

    def __init__(self) -> None:
        # account id -> [first, last, events, created, {field: (ts, value)} or None]
        self._accounts: dict[str, list[Any]] = {}
        # Account ids and identifier keys as integer codes (one numbering for both: a code
        # stands for its string, whichever it is).
        self._codes: dict[str, int] | None = {}
        self._names: list[str] = []
        self._links: dict[str, _Links] = {k: _Links() for k in _KINDS}
        self._parents: dict[IdentifierKind, set[tuple[str, str]]] = {k: set() for k in _PARENT_OF}
        self._relations: dict[str, dict[tuple[str, str], list[int]]] = {k: {} for k in RELATION_REL}
        self._engaged: dict[tuple[str, str, str], list[int]] = {}
        # (batch position, the batch's enforcements in enforce.cypher's order); the status each
        # account ends with is replayed from these in batch order when the tables are built,
        # so graphs folded from different batches can be merged first.
        self._enforced: list[tuple[int, list[tuple[int, str, str, str, Any, Any]]]] = []
        self._batches: list[tuple[int, str, int, int]] = []  # position, id, applied at, events
        self._added = 0

    def __getstate__(self) -> dict[str, Any]:
        # A worker's graph crosses to the loader by pickle: the code table is its names list
        # inverted, so only the list travels.
        state = dict(self.__dict__)
        del state["_codes"]
        for links in self._links.values():
            links.compact()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        # Made when first needed: a received graph that is merged into another never needs
        # its own (5M names at 1M accounts: 4 s of the loader's single-threaded tail).
        self._codes = None

    def _code_table(self) -> dict[str, int]:
        if self._codes is None:
            self._codes = {name: code for code, name in enumerate(self._names)}
        return self._codes

    def add_batch(
        self,
        batch_id: str,
        records: Iterable[Mapping[str, Any]],
        applied_at: int,
        position: int | None = None,
    ) -> None:
        """`position`: the batch's place in ingest's order (default: after every batch added
        here); graphs that fold different batches of one load get their global positions."""
        self._added += 1
        if position is None:
            position = self._added
        accounts, links, relations, engaged = (
            self._accounts,
            self._links,
            self._relations,
            self._engaged,
        )
        codes, names = self._code_table(), self._names
        enforced: list[tuple[int, str, str, str, Any, Any]] = []
        events = 0
        for rec in records:
            events += 1
            ts = int(rec["ts"])
            acc_id = rec["a"]
            acc = accounts.get(acc_id)
            if acc is None:
                acc = accounts[acc_id] = [ts, ts, 0, None, None]
            if ts < acc[0]:
                acc[0] = ts
            if ts > acc[1]:
                acc[1] = ts
            acc[2] += 1
            kind = rec["t"]
            if kind == "signup" and (acc[3] is None or ts < acc[3]):
                acc[3] = ts
            profile = rec.get("profile")
            if profile:
                seen = acc[4]
                if seen is None:
                    seen = acc[4] = {}
                for name, raw in profile.items():
                    value = sketch_to_text(raw) if name in _SKETCHES else raw
                    if value is None:
                        continue
                    old = seen.get(name)
                    if old is None or (ts, value) > old:
                        seen[name] = (ts, value)
            if rec["ids"]:
                acc_code = codes.get(acc_id)
                if acc_code is None:
                    acc_code = codes[acc_id] = len(names)
                    names.append(acc_id)
                for id_kind, key in rec["ids"]:
                    code = codes.get(key)
                    if code is None:
                        code = codes[key] = len(names)
                        names.append(key)
                    links[id_kind].see(acc_code, code, ts)
            if "ip_subnet" in rec:
                self._parents[IdentifierKind.IP].add(tuple(rec["ip_subnet"]))
            if "email_domain" in rec:
                self._parents[IdentifierKind.EMAIL].add(tuple(rec["email_domain"]))
            if "other" in rec:
                relation, pair = relation_edge(rec)
                _see(relations[relation], pair, ts)
            if kind == "engage":
                _see(engaged, (acc_id, rec["target"], rec["action"]), ts)
            elif kind == "enforcement":
                enforced.append(
                    (ts, rec["id"], acc_id, rec["action"], rec.get("reason"), rec.get("actor"))
                )
        # The batch's enforcements in enforce.cypher's order.
        enforced.sort(key=lambda e: (e[0], e[1]))
        if enforced:
            self._enforced.append((position, enforced))
        if events:
            self._batches.append((position, batch_id, applied_at, events))

    def merge(self, other: BulkGraph) -> None:
        """Fold `other` (a graph of other batches of the same load) into this one. Every rule
        of `add_batch` is a min, max, sum, union or per-field newest, so the order of merging
        does not matter; enforcement is replayed by batch position in `tables`. Positions must
        be given to `add_batch` (the default counts only this graph's own batches)."""
        accounts = self._accounts
        for acc_id, theirs in other._accounts.items():
            mine = accounts.get(acc_id)
            if mine is None:
                accounts[acc_id] = theirs
                continue
            mine[0] = min(mine[0], theirs[0])
            mine[1] = max(mine[1], theirs[1])
            mine[2] += theirs[2]
            if theirs[3] is not None and (mine[3] is None or theirs[3] < mine[3]):
                mine[3] = theirs[3]
            if theirs[4]:
                if mine[4] is None:
                    mine[4] = theirs[4]
                else:
                    seen = mine[4]
                    for name, newer in theirs[4].items():
                        old = seen.get(name)
                        if old is None or newer > old:
                            seen[name] = newer
        codes, names = self._code_table(), self._names

        def code(name: str) -> int:
            found = codes.get(name)
            if found is None:
                found = codes[name] = len(names)
                names.append(name)
            return found

        remap = np.fromiter(
            (code(name) for name in other._names), dtype=np.int64, count=len(other._names)
        )
        for kind, links in other._links.items():
            self._links[kind].absorb(links, remap)
        for parent_kind, pairs in other._parents.items():
            self._parents[parent_kind] |= pairs
        for relation, spans in other._relations.items():
            _merge_spans(self._relations[relation], spans)
        _merge_spans(self._engaged, other._engaged)
        self._enforced.extend(other._enforced)
        self._batches.extend(other._batches)
        # `other`'s structures now belong to this graph; it is not to be used again.

    @property
    def events(self) -> int:
        return sum(n for *_, n in self._batches)

    def _replay_enforcements(self) -> tuple[list[tuple[Any, ...]], dict[str, list[Any]]]:
        """(enforcement rows, account -> [status, status_ts, banned_at]), replayed batch by
        batch in ingest's order: a later batch wins ties on time."""
        rows: list[tuple[Any, ...]] = []
        status: dict[str, list[Any]] = {}
        for _, enforced in sorted(self._enforced, key=lambda b: b[0]):
            for ts, event_id, acc_id, action, reason, actor in enforced:
                rows.append((event_id, acc_id, action, reason, actor, ts))
                state = status.get(acc_id)
                if state is None:
                    state = status[acc_id] = [None, None, None]
                if state[1] is None or ts >= state[1]:
                    state[0], state[1] = action, ts
                    if action == "ban":
                        state[2] = ts
                    elif action == "clear":
                        state[2] = None
        return rows, status

    def tables(self) -> Tables:
        """The nodes and edges; the aggregate's own structures are released as they convert."""
        enforcements, status = self._replay_enforcements()
        nodes = [self._account_table(status)]
        edges: list[EdgeTable] = []
        names = self._names
        for kind_value, links in self._links.items():
            kind = _KINDS[kind_value]
            rows = _SpanRows(names, links)
            # Identifier nodes in the order their codes were given (first seen), each with
            # its number of distinct accounts.
            keys, accounts = np.unique(links.pair & _LOW, return_counts=True)
            parent = _PARENT_OF.get(kind)
            edges.append(
                EdgeTable(
                    IDENTIFIER_REL[kind],
                    Label.ACCOUNT,
                    IDENTIFIER_LABEL[kind],
                    SPAN,
                    rows,
                    coded=rows.columns(),
                )
            )
            if parent is not None:
                pairs = sorted(self._parents[kind])
                edges.append(
                    EdgeTable(
                        Rel.PART_OF,
                        IDENTIFIER_LABEL[kind],
                        parent,
                        (),
                        pairs,
                        coded=self._pair_codes(pairs),
                    )
                )
            nodes.append(
                NodeTable(
                    IDENTIFIER_LABEL[kind],
                    (("key", str), ("accounts", int)),
                    list(zip([names[c] for c in keys.tolist()], accounts.tolist(), strict=True)),
                    codes=keys,
                )
            )
        # A parent the parent-link MERGE would create bare (every record that names one also
        # links it as an identifier, so normally none).
        known = {
            t.label: {row[0] for row in t.rows} for t in nodes if t.label in _PARENT_OF.values()
        }
        for kind, parent in _PARENT_OF.items():
            missing = sorted({p for _, p in self._parents[kind]} - known[parent])
            table = next(t for t in nodes if t.label is parent)
            table.rows.extend((p, None) for p in missing)
        for relation, spans in self._relations.items():
            edges.append(
                EdgeTable(
                    RELATION_REL[relation],
                    Label.ACCOUNT,
                    Label.ACCOUNT,
                    SPAN,
                    [(a, b, *span) for (a, b), span in spans.items()],
                )
            )
        targets = sorted({target for _, target, _ in self._engaged})
        nodes.append(NodeTable(Label.TARGET, (("id", str),), [(t,) for t in targets]))
        edges.append(
            EdgeTable(
                Rel.ENGAGED,
                Label.ACCOUNT,
                Label.TARGET,
                (("action", str), *SPAN),
                [(a, t, action, *span) for (a, t, action), span in self._engaged.items()],
            )
        )
        nodes.append(
            NodeTable(
                Label.ENFORCEMENT,
                (("event_id", str), ("action", str), ("reason", str), ("actor", str), ("ts", int)),
                [(e[0], e[2], e[3], e[4], e[5]) for e in enforcements],
            )
        )
        edges.append(
            EdgeTable(
                Rel.ENFORCED,
                Label.ACCOUNT,
                Label.ENFORCEMENT,
                (),
                [(e[1], e[0]) for e in enforcements],
            )
        )
        nodes.append(
            NodeTable(
                Label.BATCH,
                (("id", str), ("applied_at", int), ("events", int)),
                [b[1:] for b in sorted(self._batches, key=lambda b: b[0])],
            )
        )
        return Tables([t for t in nodes if t.rows], [t for t in edges if t.rows])

    def _pair_codes(self, pairs: list[tuple[str, str]]) -> tuple[np.ndarray, ...]:
        codes = self._code_table()
        start = np.fromiter((codes.get(a, -1) for a, _ in pairs), np.int64, len(pairs))
        end = np.fromiter((codes.get(b, -1) for _, b in pairs), np.int64, len(pairs))
        return start, end

    def _account_table(self, status: dict[str, list[Any]]) -> NodeTable:
        rows: list[tuple[Any, ...]] = []
        no_status = (None, None, None)
        for acc_id, (first, last, n, created, profile) in self._accounts.items():
            fields = profile or {}
            values = [fields.get(name, (None, None)) for name in PROFILE_FIELDS]
            rows.append(
                (
                    acc_id,
                    first,
                    last,
                    n,
                    created,
                    *(v for _, v in values),
                    *(ts for ts, _ in values),
                    *status.get(acc_id, no_status),
                )
            )
        codes = self._code_table()
        coded = np.fromiter((codes.get(row[0], -1) for row in rows), np.int64, len(rows))
        bare = self._bare_accounts()
        blank = (None,) * (len(ACCOUNT_COLUMNS) - 1)
        rows.extend((acc_id, *blank) for acc_id in bare)
        self._accounts.clear()
        return NodeTable(Label.ACCOUNT, ACCOUNT_COLUMNS, rows, codes=coded)

    def _bare_accounts(self) -> Iterator[str]:
        named = self._accounts
        seen: set[str] = set()
        for spans in self._relations.values():
            for a, b in spans:
                for acc_id in (a, b):
                    if acc_id not in named and acc_id not in seen:
                        seen.add(acc_id)
                        yield acc_id
