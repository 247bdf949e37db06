"""The safety persona: everything Ringwatch knows about one account, in one answer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from ringwatch.features import declared_age_years
from ringwatch.graph.store import GraphStore
from ringwatch.services import results
from ringwatch.services.decisions import DecisionService


def persona(
    store: GraphStore, decisions_of: Callable[[], DecisionService], account_id: str
) -> dict[str, Any]:
    """`decisions_of` is called only once the account is known: strategies that do not load
    (the decision service cannot be built) must not turn an unknown account's 404 into another
    error."""
    view = results.account_view(store, account_id)  # NotFound for unknown accounts
    decisions = decisions_of()
    min_age = decisions.strategies.live.min_age
    age = declared_age_years(view.get("birthdate"), dt.datetime.now(dt.UTC).date())
    recent = decisions.log.recent(account_id)
    return {
        "account_id": account_id,
        "status": view.get("status") or "active",
        "created_at": view.get("created_at"),
        "last_seen": view.get("last_seen"),
        "scores": {
            "risk": view.get("risk") or 0.0,
            "evader_score": view.get("evader_score") or 0.0,
            # null: no labelled account reaches it through relations (trust prior 0.5)
            "sybil_score": view.get("sybil_score"),
            "engagement_score": view.get("engagement_score") or 0.0,
        },
        "rings": view["rings"],
        "evader_matches": view["evader_matches"],
        "identifiers": view["identifier_counts"],
        "age": {
            "birthdate_declared": view.get("birthdate") is not None,
            "declared_age_years": age,
            "under_min_age": age is not None and age < min_age,
            "min_age": min_age,
        },
        "enforcement_history": store.enforcement_history(account_id),
        "recent_decisions": [
            {
                k: d.get(k)
                for k in ("decision_id", "checkpoint", "action", "score", "at", "strategy")
            }
            | {"reasons": [r["reason"] for r in d.get("reasons", [])]}
            for d in recent
        ],
    }
