"""The console's ring list: the API's ring pages joined with each ring's evidence, so rings can be
filtered by score and evidence kind and sorted, which the cursor-paged API does not do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ringwatch.graph.store import GraphStore, RingFilter
from ringwatch.services import results

PAGE = 500
SORTS = ("score", "size", "updated", "created", "id")


@dataclass(frozen=True)
class RingQuery:
    verdict: str | None = None
    kind: str | None = None  # an evidence kind: device, phone, lockstep, ...
    min_size: int = 0
    max_size: int | None = None
    min_score: float = 0.0
    since: int | None = None  # updated at or after, epoch ms
    sort: str = "score"
    descending: bool = True
    page: int = 0
    per_page: int = 25


def _all_active(store: GraphStore, query: RingQuery) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    after = ""
    while True:
        filters = RingFilter(
            verdict=query.verdict,
            min_size=query.min_size,
            max_size=query.max_size,
            since=query.since,
            after=after,
            limit=PAGE,
        )
        page = results.rings_page(store, filters)
        rows.extend(page["items"])
        if page["next_cursor"] is None:
            return rows
        after = page["next_cursor"]


def ring_list(store: GraphStore, query: RingQuery) -> dict[str, Any]:
    evidence = {r["ring_id"]: r["evidence"] for r in results.export_rings(store)}
    items = []
    for row in _all_active(store, query):
        ev = evidence.get(row["id"], {})
        kinds = sorted((ev.get("link_types") or {}).keys())
        if (row["score"] or 0.0) < query.min_score:
            continue
        if query.kind and query.kind not in kinds:
            continue
        items.append(
            row
            | {
                "kinds": kinds,
                "shared": (ev.get("shared_identifiers") or [])[:3],
                "banned": len(ev.get("banned_members") or []),
            }
        )
    key = {
        "score": lambda r: (r["score"] or 0.0, r["id"]),
        "size": lambda r: (r["size"] or 0, r["id"]),
        "updated": lambda r: (r["updated_at"] or 0, r["id"]),
        "created": lambda r: (r["created_at"] or 0, r["id"]),
        "id": lambda r: (r["id"],),
    }.get(query.sort, lambda r: (r["score"] or 0.0, r["id"]))
    items.sort(key=key, reverse=query.descending)
    start = query.page * query.per_page
    return {
        "items": items[start : start + query.per_page],
        "total": len(items),
        "page": query.page,
        "pages": max(1, -(-len(items) // query.per_page)),
    }
