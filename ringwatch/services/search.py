"""Find accounts by id or by a raw identifier. The raw value is normalised and keyed-hashed here,
exactly as ingest does (ringwatch/records.py), so it is compared as a pseudonym and never stored,
logged or sent back."""

from __future__ import annotations

from typing import Any

from ringwatch.errors import Invalid, Problem
from ringwatch.graph.store import GraphStore
from ringwatch.identity import (
    IdentifierKind,
    NormaliseError,
    Pseudonymiser,
    normalise_email,
    normalise_ip,
    normalise_phone,
)

SEARCH_KINDS = ("account", "email", "phone", "device", "card", "ip")
RESULTS = 50


def pseudonym(
    hasher: Pseudonymiser, kind: str, raw: str, country: str | None
) -> tuple[IdentifierKind, str]:
    try:
        if kind == "email":
            return IdentifierKind.EMAIL, hasher.digest(
                IdentifierKind.EMAIL, normalise_email(raw)[0]
            )
        if kind == "phone":
            number = normalise_phone(raw, country)
            return IdentifierKind.PHONE, hasher.digest(IdentifierKind.PHONE, number)
        if kind == "ip":
            return IdentifierKind.IP, hasher.digest(IdentifierKind.IP, normalise_ip(raw)[0])
        if kind == "device":
            return IdentifierKind.DEVICE, hasher.digest(IdentifierKind.DEVICE, raw.strip())
        if kind == "card":
            return IdentifierKind.CARD, hasher.digest(IdentifierKind.CARD, raw.strip())
    except NormaliseError as e:
        raise Invalid(f"cannot read that {kind}", [Problem("q", str(e))]) from e
    raise Invalid(f"cannot search by {kind!r}", [Problem("kind", f"one of {SEARCH_KINDS}")])


def search(
    store: GraphStore, hasher: Pseudonymiser, kind: str, raw: str, country: str | None = None
) -> dict[str, Any]:
    raw = raw.strip()
    if not raw:
        raise Invalid("nothing to search for", [Problem("q", "empty")])
    if kind == "account":
        row = store.account(raw, identifiers_per_kind=1)
        found = (
            [{"account": raw, "risk": row.get("risk"), "status": row.get("status")}] if row else []
        )
        return {"kind": kind, "key": None, "accounts": found}
    ident, key = pseudonym(hasher, kind, raw, country)
    rows = store.identifier_accounts(ident, key, 0, RESULTS)
    return {
        "kind": ident.value,
        "key": key,
        "total": int(rows[0]["accounts"] or 0) if rows else 0,
        "accounts": [
            {"account": r["account"], "risk": r["risk"], "status": r["status"]} for r in rows
        ],
    }
