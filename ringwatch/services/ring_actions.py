"""Coordinated ring actions: one enforcement for all (or some) members of a ring, as one operation.

The members' enforcement events, the audit entries and the `actioned` verdict changes commit in
one atomic batch under the operation's id, so a consumer of the feed never hears of an action
that the graph does not show, and a retried operation (same `Idempotency-Key`) writes nothing:
its event ids and batch id are derived from the operation id, the dedupe ledger recognises the
events and the store recognises the batch.

The events go through the ingest path's own validation, dedupe claims and statements
(`IngestService.validate`, `Intake.accept`, `build_statements`), exactly like a file that
`ringwatch ingest` applies directly; they are applied here rather than by a worker only so that
they can share the audit's transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import redis

from ringwatch.errors import Invalid, NotFound, Problem
from ringwatch.events import EnforcementAction
from ringwatch.graph.audit_log import append_statement
from ringwatch.graph.change_log import record_statement
from ringwatch.graph.rows import Statement, build_statements
from ringwatch.graph.store import GraphStore
from ringwatch.records import Record
from ringwatch.services import changes
from ringwatch.services.audit import Actor, entry, now_ms
from ringwatch.services.detection_queue import DetectionQueue
from ringwatch.services.ingest import IngestService

Row = dict[str, Any]

ACTIONS = tuple(a.value for a in EnforcementAction)
MAX_REASON = 500
MAX_EVENT_ID = 200


@dataclass(frozen=True)
class RingAction:
    action: str
    reason: str
    members: tuple[str, ...] | None = None  # None: every current member
    exclude_banned: bool = False


def operation_id(scope: str, actor: Actor, idempotency_key: str | None) -> str:
    """Stable for one caller's retries of one request; fresh otherwise. Keys are scoped to the
    caller and the subject, so two callers reusing a key never see each other's operation."""
    if not idempotency_key:
        return "op_" + uuid.uuid4().hex
    digest = hashlib.sha256(f"{actor.id}\n{scope}\n{idempotency_key}".encode()).hexdigest()
    return "op_" + digest[:32]


def event_id(operation: str, account: str) -> str:
    readable = f"{operation}:{account}"
    if len(readable) <= MAX_EVENT_ID:
        return readable
    return f"{operation}:{hashlib.sha256(account.encode()).hexdigest()[:32]}"


def enforcement_statements(
    ingest: IngestService,
    batch_id: str,
    operation: str,
    accounts: Sequence[str],
    action: str,
    *,
    actor: Actor,
    reason: str,
    now: int,
) -> tuple[list[Record], list[Statement]]:
    """Enforcement events for `accounts`, validated and claimed like any ingested event, and the
    statements that apply them; the caller adds its own statements and applies the batch."""
    ts = dt.datetime.fromtimestamp(now / 1000, tz=dt.UTC).isoformat()
    raw = [
        (
            i,
            {
                "event_id": event_id(operation, account),
                "type": "enforcement",
                "ts": ts,
                "account_id": account,
                "action": action,
                "reason": reason[:MAX_REASON] or None,
                "actor": actor.label[:MAX_REASON],
            },
        )
        for i, account in enumerate(accounts)
    ]
    records, problems = ingest.validate(raw)
    if problems:
        raise Invalid("the enforcement events did not validate", problems)
    claimed = ingest.intake.accept(batch_id, records, keep_payload=False)
    dupes = set(claimed.duplicate_indexes)
    fresh = [r for i, r in enumerate(records) if i not in dupes]
    return fresh, build_statements(fresh) if fresh else []


def mark_dirty(client: redis.Redis | None, accounts: Iterable[str]) -> None:
    """Enforcement changes ring features (banned share) and the banned seeds: the accounts are
    put in the set the next incremental detection run drains, as the ingest worker would."""
    if client is not None:
        DetectionQueue(client).mark_dirty(accounts)


class RingActionService:
    def __init__(
        self, store: GraphStore, ingest: IngestService, client: redis.Redis | None = None
    ) -> None:
        self.store = store
        self.ingest = ingest
        self.redis = client

    def apply(
        self,
        ring_id: str,
        request: RingAction,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> Row:
        if request.action not in ACTIONS:
            raise Invalid("unknown action", [Problem("action", f"one of {', '.join(ACTIONS)}")])
        operation = operation_id(f"ring:{ring_id}", actor, idempotency_key)
        batch_id = f"ring-action:{operation}"
        store = self.store
        if idempotency_key and store.batch_applied(batch_id):
            return self._replay(ring_id, operation, request)
        ring = store.ring(ring_id)
        if ring is None:
            raise NotFound(f"no ring {ring_id!r}")
        current = {str(m["id"]): m for m in ring["members"]}
        chosen = sorted(set(request.members)) if request.members is not None else sorted(current)
        outsiders = [m for m in chosen if m not in current]
        if outsiders:
            raise Invalid(
                "members not in the ring",
                [Problem("members", f"{m!r} is not a current member") for m in outsiders[:50]],
            )
        if request.exclude_banned:
            chosen = [m for m in chosen if current[m].get("banned_at") is None]
        if not chosen:
            raise Invalid("no members to act on", [Problem("members", "the selection is empty")])

        now = now_ms()
        records, statements = enforcement_statements(
            self.ingest,
            batch_id,
            operation,
            chosen,
            request.action,
            actor=actor,
            reason=request.reason,
            now=now,
        )
        before = {m: current[m].get("status") for m in chosen}
        summary = {
            "operation": operation,
            "action": request.action,
            "members": chosen,
            "excluded_banned": request.exclude_banned,
            "subset": request.members is not None,
        }
        entries = [
            entry(
                actor,
                f"ring.{request.action}",
                "ring",
                ring_id,
                reason=request.reason,
                before={"verdict": ring["verdict"], "member_status": before},
                after={**summary, "member_status": dict.fromkeys(chosen, request.action)},
                entry_id=f"aud_{operation}:ring",
            )
        ] + [
            entry(
                actor,
                f"account.{request.action}",
                "account",
                account,
                reason=request.reason,
                before={"status": before[account]},
                after={"status": request.action, "ring_id": ring_id, "operation": operation},
                entry_id=f"aud_{operation}:account:{account}",
            )
            for account in chosen
        ]
        detail = {"action": request.action, "operation": operation, "reason": request.reason}
        outbox = [
            changes.change(
                "actioned",
                "ring",
                ring_id,
                {**detail, "members": len(chosen), "verdict": ring["verdict"]},
            )
        ] + [
            changes.change("actioned", "account", account, {**detail, "ring_id": ring_id})
            for account in chosen
        ]
        statements += [append_statement(entries, now), record_statement(outbox, operation, now)]
        applied = store.apply_statements(batch_id, statements, now=now, events=len(records))
        if not applied:
            # A concurrent retry of the same operation committed first: answer as it did.
            return self._replay(ring_id, operation, request)
        mark_dirty(self.redis, chosen)
        return {"ring_id": ring_id, **summary, "replayed": False, "at": now}

    def _replay(self, ring_id: str, operation: str, request: RingAction) -> Row:
        done_entry = self.store.audit.get(f"aud_{operation}:ring")
        if done_entry is None:
            # The batch marker exists but not its audit entry: cannot happen for a batch written
            # by `apply`, so the key was used for something else.
            raise Invalid("Idempotency-Key already used", [Problem("Idempotency-Key", "reused")])
        done = orjson.loads(done_entry["after"])
        same = done["action"] == request.action and (
            request.members is None or set(request.members) >= set(done["members"])
        )
        if not same:
            raise Invalid(
                "Idempotency-Key reused for a different request",
                [Problem("Idempotency-Key", "already used for another action on this ring")],
            )
        keys = ("operation", "action", "members", "excluded_banned", "subset")
        return {
            "ring_id": ring_id,
            **{k: done[k] for k in keys},
            "replayed": True,
            "at": done_entry["at"],
        }
