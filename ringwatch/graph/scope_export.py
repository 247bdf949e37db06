"""An incremental run's scope as columns: the accounts an expansion found, every edge they
hold, and the profiles of all banned accounts, read as one row of lists per chunk of ids and
assembled into `SnapshotColumns` by array operations.

The per-record pages this replaces (one dict per account and per edge, fed one by one to the
builder) cost more for a 5,000-account scope than the full run's columnar export of the whole
10k-account world. Edges name their far end by key here, not by internal id as in the full
export: a scope's relation may end at an account outside it, and a scope is too small for a
key table of a whole label to pay off.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ringwatch.detectors.snapshot import (
    ENGAGE_ACTIONS,
    KIND_CODE,
    NOT_BANNED,
    RELATION_KINDS,
    SnapshotColumns,
)
from ringwatch.graph.export import _ints, _sketches, _strings
from ringwatch.graph.labels import IDENTIFIER_REL, RELATION_REL, SNAPSHOT_RELS, Rel
from ringwatch.graph.queries import cypher

if TYPE_CHECKING:
    from ringwatch.graph.store import CypherStore

_PROFILE_INTS = ("created_at", "first_seen", "banned_at")
_EDGE_INTS = ("n", "first", "total")

# Per relationship type name: (0, identifier kind code) for a link, (1, relation kind code)
# for an account relation, (2, 0) for an engagement.
_REL_CODE: dict[str, tuple[int, int]] = {
    **{rel.value: (0, KIND_CODE[kind.value]) for kind, rel in IDENTIFIER_REL.items()},
    **{rel.value: (1, RELATION_KINDS.index(name)) for name, rel in RELATION_REL.items()},
    Rel.ENGAGED.value: (2, 0),
}


def export_scope(
    store: CypherStore,
    accounts: Sequence[str],
    *,
    chunk: int = 5000,
    banned_profiles: bool = False,
    progress: Callable[[int], None] | None = None,
) -> SnapshotColumns:
    """The given accounts with all their edges; with `banned_profiles`, every banned account
    outside them as a profile without edges. An account that a relation reaches outside the
    scope is a row with nothing known, as the builder makes it."""
    ids = sorted(set(accounts))
    profile_q = cypher("read/scope_accounts")
    edge_q = cypher("read/scope_edges", RELS=SNAPSHOT_RELS)
    profiles: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    for start in range(0, len(ids), chunk):
        part = {"ids": ids[start : start + chunk]}
        if page := store.read_columns(profile_q, part, _PROFILE_INTS):
            profiles.append(page)
        if page := store.read_columns(edge_q, part, _EDGE_INTS):
            edges.append(page)
        if progress:
            progress(len(part["ids"]))
    if banned_profiles:
        profiles += _banned_pages(store, chunk)
    return _assemble(profiles, edges)


def _banned_pages(store: CypherStore, limit: int) -> list[dict[str, Any]]:
    query = cypher("read/banned_profiles")
    pages: list[dict[str, Any]] = []
    after = ""
    while True:
        page = store.read_columns(query, {"after": after, "limit": limit}, _PROFILE_INTS)
        if not page or not len(page["id"]):
            return pages
        pages.append(page)
        after = max(page["id"])


def _column(pages: list[dict[str, Any]], name: str, ints: bool) -> np.ndarray:
    return (_ints if ints else _strings)([p[name] for p in pages])


def _assemble(profiles: list[dict[str, Any]], edges: list[dict[str, Any]]) -> SnapshotColumns:
    ids = _column(profiles, "id", False)
    # A banned account in scope comes twice (its scope row first, with its status): keep one.
    _, first = np.unique(ids.astype(str), return_index=True)
    keep = np.sort(first)
    statuses = [p.get("status", [""] * len(p["id"])) for p in profiles]
    known = {
        name: _column(profiles, name, name in _PROFILE_INTS)[keep]
        for name in ("id", *_PROFILE_INTS, "country", "birthdate")
    }
    sketch = {
        name: _sketches([p[name] for p in profiles])[keep]
        for name in ("name_sketch", "email_sketch")
    }
    status = _strings(statuses)[keep]

    src, rel, key = (_column(edges, name, False) for name in ("a", "rel", "key"))
    count, first_ts, total = (_column(edges, name, True) for name in _EDGE_INTS)
    action = _column(edges, "action", False)
    codes = np.array([_REL_CODE[r] for r in rel], dtype=np.int64).reshape(-1, 2)
    family, code = codes[:, 0], codes[:, 1]
    links, relations, engaged = family == 0, family == 1, family == 2

    # Relation targets outside the scope become rows with nothing known.
    row = {a: i for i, a in enumerate(known["id"])}
    outside = sorted({k for k in key[relations] if k not in row})
    for a in outside:
        row[a] = len(row)
    n_out = len(outside)
    account_ids = np.concatenate([known["id"], _strings([outside])])

    def pad(values: np.ndarray, fill: Any) -> np.ndarray:
        extra = np.full((n_out, *values.shape[1:]), fill, dtype=values.dtype)
        return np.concatenate([values, extra])

    def rows_of(names: np.ndarray) -> np.ndarray:
        return np.fromiter((row[a] for a in names), dtype=np.int64, count=len(names))

    targets, engage_target = np.unique(key[engaged].astype(str), return_inverse=True)
    action_code = {a: i for i, a in enumerate(ENGAGE_ACTIONS)}
    return SnapshotColumns(
        accounts=account_ids,
        created_at=pad(known["created_at"], -1) // 1000,
        first_seen=pad(known["first_seen"], -1) // 1000,
        banned_at=pad(known["banned_at"], NOT_BANNED) // 1000,
        country=pad(known["country"], ""),
        birthdate=pad(known["birthdate"], ""),
        name_sketch=pad(sketch["name_sketch"], 0),
        email_sketch=pad(sketch["email_sketch"], 0),
        verified=pad(np.asarray(status == "verify", dtype=bool), False),
        # One identifier per link: the freeze merges equal (kind, key) pairs.
        identifiers=key[links],
        identifier_kind=code[links].astype(np.int8),
        identifier_accounts=total[links],
        link_account=rows_of(src[links]),
        link_identifier=np.arange(int(links.sum()), dtype=np.int64),
        link_count=count[links],
        link_first=first_ts[links] // 1000,
        relation_source=rows_of(src[relations]),
        relation_target=rows_of(key[relations]),
        relation_kind=code[relations],
        targets=_strings([list(targets)]),
        engage_account=rows_of(src[engaged]),
        engage_target=engage_target.astype(np.int64).reshape(-1),
        engage_action=np.array([action_code[a] for a in action[engaged]], dtype=np.int64),
        engage_first=first_ts[engaged] // 1000,
    )
