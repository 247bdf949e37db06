"""A ring as a picture: accounts, the identifiers that tie them, behavioural links, and the
sentences an investigator reads first. The console draws it; the API's ring view is its input."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from ringwatch.errors import Invalid, Problem
from ringwatch.graph.store import GraphStore
from ringwatch.identity import IdentifierKind
from ringwatch.services import results

# Enough identifier links per kind to draw a few-thousand-element picture without stalling the
# browser; a larger ring's long tail is reachable by expanding nodes.
LINKS_PER_KIND = 2000
RELATIONS = 2000
EXPAND_PAGE = 25
BANNED_STATUSES = frozenset({"ban", "suspend"})
REVIEW_STATUSES = frozenset({"restrict", "age_gate", "verify"})


def account_state(row: dict[str, Any]) -> str:
    """banned / review / flagged / clear, the four colours of the picture."""
    status = row.get("status")
    if row.get("banned_at") is not None or status in BANNED_STATUSES:
        return "banned"
    if status in REVIEW_STATUSES:
        return "review"
    if (row.get("risk") or 0.0) >= results.REVIEW_THRESHOLD:
        return "flagged"
    return "clear"


def account_node(row: dict[str, Any]) -> dict[str, Any]:
    account = str(row.get("id") or row.get("account"))
    return {
        "id": f"a:{account}",
        "type": "account",
        "label": account,
        "state": account_state(row),
        "risk": round(float(row.get("risk") or 0.0), 4),
        "created_at": row.get("created_at"),
    }


def identifier_node(kind: str, key: str, accounts: int) -> dict[str, Any]:
    return {
        "id": f"i:{kind}:{key}",
        "type": "identifier",
        "kind": kind,
        "key": key,
        "label": f"{kind} {key[:8]}… ({accounts})",
        "accounts": int(accounts),
    }


def _iso(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="minutes")


def ring_graph(store: GraphStore, ring_id: str) -> dict[str, Any]:
    ring = results.ring_view(store, ring_id)
    nodes = {f"a:{m['id']}": account_node(m) for m in ring["members"]}
    edges: list[dict[str, Any]] = []
    for kind, rows in store.ring_links(ring_id, LINKS_PER_KIND).items():
        for r in rows:
            node = identifier_node(kind, r["key"], r["accounts"])
            nodes.setdefault(node["id"], node)
            edges.append(
                {
                    "id": f"e:{r['account']}:{node['id']}",
                    "source": f"a:{r['account']}",
                    "target": node["id"],
                    "type": "identifier",
                    "kind": kind,
                    "first_seen": r.get("first_seen"),
                }
            )
    for r in store.ring_relations([m["id"] for m in ring["members"]], RELATIONS):
        edges.append(
            {
                "id": f"b:{r['source']}:{r['rel']}:{r['target']}",
                "source": f"a:{r['source']}",
                "target": f"a:{r['target']}",
                "type": "behaviour",
                "kind": str(r["rel"]).lower(),
                "first_seen": r.get("first_seen"),
            }
        )
    return {
        "ring": {k: ring.get(k) for k in ("id", "verdict", "score", "size", "status")},
        "nodes": list(nodes.values()),
        "edges": edges,
        "evidence": evidence_lines(ring, edges),
    }


def evidence_lines(ring: dict[str, Any], edges: list[dict[str, Any]]) -> list[str]:
    """What ties the ring together, in plain sentences, strongest first."""
    evidence = ring.get("evidence") or {}
    lines = []
    shared = evidence.get("shared_identifiers") or []
    if not shared:
        members_of: Counter[tuple[str, str]] = Counter(
            (e["kind"], e["target"].split(":", 2)[2]) for e in edges if e["type"] == "identifier"
        )
        shared = [
            {"kind": k, "key": key, "members": n} for (k, key), n in members_of.most_common(5)
        ]
    for s in shared[:5]:
        lines.append(f"{s['members']} accounts share {s['kind']} {s['key']}")
    window = evidence.get("created_window")
    if window and window.get("first") is not None:
        # Detection keeps times as epoch seconds (detectors/snapshot.py).
        minutes = (window["p90"] - window["p10"]) / 60
        size = len(ring["members"])
        lines.append(
            f"{size * 8 // 10} signed up within {minutes:.0f} minutes "
            f"(10th to 90th percentile, {_iso(window['p10'])} to {_iso(window['p90'])})"
        )
    for kind, count in sorted((evidence.get("link_types") or {}).items()):
        if kind not in {k.value for k in IdentifierKind}:
            lines.append(f"{count} {kind} links between members")
    banned = sum(1 for m in ring["members"] if account_state(m) == "banned")
    lines.append(f"{banned} banned")
    return lines


def expand(
    store: GraphStore, kind: str, key: str, offset: int = 0, limit: int = EXPAND_PAGE
) -> dict[str, Any]:
    """One step out from an identifier: a page of its accounts and how many remain."""
    try:
        ident_kind = IdentifierKind(kind)
    except ValueError as e:
        raise Invalid(
            f"unknown identifier kind {kind!r}", [Problem("kind", "not an identifier kind")]
        ) from e
    rows = store.identifier_accounts(ident_kind, key, offset, limit)
    total = int(rows[0]["accounts"] or 0) if rows else 0
    node_id = f"i:{kind}:{key}"
    return {
        "identifier": identifier_node(kind, key, total),
        "nodes": [account_node(r) for r in rows],
        "edges": [
            {
                "id": f"e:{r['account']}:{node_id}",
                "source": f"a:{r['account']}",
                "target": node_id,
                "type": "identifier",
                "kind": kind,
                "first_seen": r.get("first_seen"),
            }
            for r in rows
        ],
        "offset": offset,
        "more": max(0, total - offset - len(rows)),
    }


def expand_account(
    store: GraphStore, account_id: str, per_kind: int = EXPAND_PAGE
) -> dict[str, Any]:
    """One step out from an account: its identifiers, with how many accounts use each."""
    view = results.account_view(store, account_id)
    nodes = [account_node({**view, "id": account_id})]
    edges = []
    more = 0
    for kind, rows in view["identifiers"].items():
        for r in rows[:per_kind]:
            node = identifier_node(kind, r["key"], r["accounts"] or 0)
            nodes.append(node)
            edges.append(
                {
                    "id": f"e:{account_id}:{node['id']}",
                    "source": f"a:{account_id}",
                    "target": node["id"],
                    "type": "identifier",
                    "kind": kind,
                    "first_seen": r.get("first_seen"),
                }
            )
        more += max(0, len(rows) - per_kind)
    return {"nodes": nodes, "edges": edges, "more": more}


def neighbours(
    store: GraphStore, account_id: str, identifiers: int = 10, per_identifier: int = 10
) -> list[dict[str, Any]]:
    """Accounts one identifier away, through the account's most shared identifiers: who it is
    tied to, and by what. Each neighbour is listed once, with every identifier it shares."""
    view = results.account_view(store, account_id)
    shared = sorted(
        (
            (int(r["accounts"] or 0), kind, r["key"])
            for kind, rows in view["identifiers"].items()
            for r in rows
            if (r["accounts"] or 0) > 1
        ),
        key=lambda t: (-t[0], t[1], t[2]),
    )[:identifiers]
    found: dict[str, dict[str, Any]] = {}
    for accounts, kind, key in shared:
        for row in store.identifier_accounts(IdentifierKind(kind), key, 0, per_identifier + 1):
            other = str(row["account"])
            if other == account_id:
                continue
            entry = found.setdefault(
                other, {"account": other, "state": account_state(row), "via": []}
            )
            entry["via"].append({"kind": kind, "key": key, "accounts": accounts})
    return sorted(found.values(), key=lambda n: (-len(n["via"]), n["account"]))
