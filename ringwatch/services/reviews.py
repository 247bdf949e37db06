"""The human review queue: items from `review` decisions and `suspicious` rings, claimed, labelled.

Storage: `(:Review)` nodes in the graph, not Redis. A claim or a resolution must commit together
with its audit entry, and a resolution also with its enforcement events, verdict changes and ring
suppression; all of those live in the graph, so one `apply_statements` batch makes each step
atomic. The queue is small (items per flagged subject, not per event), so ordering it by
priority in Cypher is cheap, and an investigator can see the items next to the ring in Cypher.

Where items come from:
- `queue_decision`, called by `DecisionService.decide` after the decision is logged: one graph
  write (a single statement creating or escalating the item and its audit entry), and none at
  all unless the action is `review`.
- `sync_ring_reviews`, called after each detection run's write-back: it reads the Change log
  (the same outbox the feed and webhooks read) from its own cursor and queues rings whose new
  verdict is `suspicious`, advancing the cursor in the same batch. Reading the committed log
  rather than the run's in-memory result means a crash between write-back and queueing loses
  nothing: the next sync catches up.

One unresolved item per subject: a new decision or escalation raises the open item's priority
instead of adding a duplicate. A claim lapses after `claim_minutes`; a lapsed claim counts as
open and anyone may claim it.

Labels feed back into detection (`resolve`): `fraud` applies `fraud_action` (ban by default) to
the accounts, making them banned seeds for repeat-offender matching; `underage` applies
`age_gate`; `legit` clears the accounts and suppresses the ring for its current evidence
(`apply_suppressions`, called by detection's write-back); `unsure` only closes the item.
"""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import orjson
import redis

from ringwatch.detectors._common import STRONG
from ringwatch.detectors.pipeline import DetectionResult
from ringwatch.errors import Conflict, Invalid, NotFound, Problem, Unavailable
from ringwatch.graph.audit_log import append_statement
from ringwatch.graph.change_log import record_statement
from ringwatch.graph.review_queue import (
    advance_sync_statement,
    claim_statement,
    resolve_statement,
    suppress_ring_statement,
    upsert_statement,
)
from ringwatch.graph.rows import Statement
from ringwatch.graph.store import GraphStore
from ringwatch.services import changes, cursors
from ringwatch.services.audit import (
    SYSTEM,
    Actor,
    dumps,
    entry,
    new_id,
    now_ms,
)
from ringwatch.services.ingest import IngestService
from ringwatch.services.ring_actions import enforcement_statements, mark_dirty
from ringwatch.vocabulary import ReviewLabel

log = logging.getLogger(__name__)

Row = dict[str, Any]

LABELS: tuple[str, ...] = tuple(ReviewLabel)
STATUSES = ("open", "claimed", "resolved")
SORTS = ("priority", "created")
MAX_LIMIT = 500
MAX_NOTE = 2000
SYNC_PAGE = 1000
# Change kinds after which a ring's verdict is what the change's detail says.
VERDICT_KINDS = ("created", "escalated", "downgraded")


# -- priorities ------------------------------------------------------------------------------------
def decision_priority(score: float) -> float:
    """Decisions score in strategy points; the queue uses the same 0-100 scale for both kinds."""
    return round(min(100.0, max(0.0, float(score))), 3)


def ring_priority(score: float, size: int) -> float:
    """100 x the ring's score, plus up to 20 for size (5 per doubling): of two equally likely
    rings the larger does more harm, but size alone never outranks evidence."""
    bonus = min(20.0, 5.0 * math.log2(max(int(size), 1)))
    return round(min(100.0, 100.0 * float(score) + bonus), 3)


# -- items from decisions and detection ------------------------------------------------------------
def _item_row(
    *,
    kind: str,
    subject_type: str,
    subject_id: str,
    priority: float,
    source: Mapping[str, Any],
    reason: str,
) -> Row:
    return {
        "key": f"{subject_type}:{subject_id}",
        "id": new_id("rev_"),
        "kind": kind,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "priority": priority,
        "source": dumps(source),
        "audit_id": new_id(),
        "actor": SYSTEM.label,
        "reason": reason,
        "after": dumps({"kind": kind, "priority": priority, "source": source}),
    }


def queue_decision(store: GraphStore, decision: Mapping[str, Any]) -> None:
    """Hook for `DecisionService.decide`: a `review` decision becomes (or escalates) the account's
    review item. One statement, one transaction; nothing at all for other actions."""
    if decision.get("action") != "review":
        return
    source = {
        "decision_id": decision.get("decision_id"),
        "checkpoint": decision.get("checkpoint"),
        "score": decision.get("score"),
        "rules": [r.get("rule") for r in decision.get("reasons") or []],
        "ring": decision.get("ring"),
    }
    row = _item_row(
        kind="decision",
        subject_type="account",
        subject_id=str(decision["account_id"]),
        priority=decision_priority(float(decision.get("score") or 0.0)),
        source=source,
        reason=f"decision {decision.get('decision_id')} at {decision.get('checkpoint')}",
    )
    store.reviews.upsert([row], now_ms())


def sync_ring_reviews(store: GraphStore) -> int:
    """Queue rings whose verdict became `suspicious`, from the Change log after this queue's
    cursor. Returns the number of items created or escalated. Never raises for an unreachable
    store: the cursor has not moved, so the next sync does the work."""
    try:
        return _sync(store)
    except Unavailable as e:
        log.warning("review sync postponed: %s", e)
        return 0


def _sync(store: GraphStore) -> int:
    graph = store
    queued = 0
    while True:
        cursor = graph.reviews.sync_cursor()
        page = graph.changes_page(cursor, SYNC_PAGE)
        if not page:
            return queued
        upto = int(page[-1]["seq"])
        latest: dict[str, Row] = {}
        for change in page:
            if change["subject"] == "ring" and change["kind"] in VERDICT_KINDS:
                detail = orjson.loads(change["detail"] or "{}")
                latest[str(change["subject_id"])] = {**detail, "seq": change["seq"]}
        # Only rings still active and suspicious now: an old change for a ring since cleared
        # (first sync over a long log, say) queues nothing.
        states = graph.ring_states(sorted(latest))
        items = [
            _item_row(
                kind="ring",
                subject_type="ring",
                subject_id=ring_id,
                priority=ring_priority(
                    float(detail.get("score") or 0.0), int(detail.get("size") or 0)
                ),
                source={
                    "change_seq": detail["seq"],
                    "verdict": "suspicious",
                    "score": detail.get("score"),
                    "size": detail.get("size"),
                },
                reason=f"ring verdict suspicious (change {detail['seq']})",
            )
            for ring_id, detail in sorted(latest.items())
            if detail.get("verdict") == "suspicious"
            and (states.get(ring_id) or {}).get("status") == "active"
            and (states.get(ring_id) or {}).get("verdict") == "suspicious"
        ]
        now = now_ms()
        statements = [advance_sync_statement(upto, now)]
        if items:
            statements.insert(0, upsert_statement(items, now))
        # The batch id names the range: two syncs over the same range apply it once.
        if graph.apply_statements(f"review-sync:{cursor}:{upto}", statements, now=now):
            queued += len(items)


# -- detection feedback --------------------------------------------------------------------------
def evidence_identifiers(evidence: Mapping[str, Any]) -> list[str]:
    """The ring's shared identifiers as `kind:key`: the strong ones if any (a new shared device
    or card is new evidence; one more shared café IP is not), else all of them."""
    shared = evidence.get("shared_identifiers") or []
    strong = sorted({f"{s['kind']}:{s['key']}" for s in shared if s.get("kind") in STRONG})
    return strong or sorted({f"{s['kind']}:{s['key']}" for s in shared})


def fingerprint(identifiers: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(identifiers)).encode()).hexdigest()[:32]


def apply_suppressions(store: GraphStore, result: DetectionResult) -> DetectionResult:
    """Hook for detection's write-back: rings labelled `legit` stay benign while their evidence
    stays within what the reviewer saw. Evidence that grows (a shared identifier the review did
    not cover) lifts the suppression, and the ring is flagged, and queued, again.

    Members of a suppressed ring keep only their evader share of risk, so the accounts are not
    re-flagged one by one for the ring the reviewer cleared."""
    flagged = [r.ring_id for r in result.rings if r.verdict != "benign"]
    if not flagged:
        return result
    rows = store.reviews.suppressions(flagged)
    suppressed = {r["id"]: r for r in rows}
    if not suppressed:
        return result
    rings = list(result.rings)
    hit: list[int] = []
    for i, ring in enumerate(rings):
        row = suppressed.get(ring.ring_id)
        if row is None or ring.verdict == "benign":
            continue
        covered = set(orjson.loads(row["identifiers"] or "[]"))
        if not set(evidence_identifiers(ring.evidence)) <= covered:
            continue
        note = {"review": row["review"], "fingerprint": row["fingerprint"], "was": ring.verdict}
        rings[i] = replace(ring, verdict="benign", evidence={**ring.evidence, "suppressed": note})
        hit.append(i)
    if not hit:
        return result
    evader = {e.account_id: e.score for e in result.evaders}
    risk = result.risk.copy()
    for row_index in np.flatnonzero(np.isin(result.ring_of, hit)).tolist():
        risk[row_index] = evader.get(str(result.accounts[row_index]), 0.0)
    return replace(result, rings=tuple(rings), risk=risk)


# -- the queue -----------------------------------------------------------------------------------
def _encode(values: list[Any]) -> str:
    return cursors.encode(values)


def _decode(cursor: str) -> tuple[Any, str]:
    values = cursors.decode(cursor, "cursor")
    if (
        not isinstance(values, list)
        or len(values) != 2
        or not isinstance(values[0], int | float)
        or isinstance(values[0], bool)
        or not isinstance(values[1], str)
    ):
        raise cursors.invalid("cursor", "not a cursor returned by this API")
    return values[0], values[1]


class ReviewService:
    def __init__(
        self,
        store: GraphStore,
        ingest: IngestService,
        client: redis.Redis | None = None,
        *,
        fraud_action: str = "ban",
        claim_minutes: int = 30,
    ) -> None:
        self.store = store
        self.ingest = ingest
        self.redis = client
        self.fraud_action = fraud_action
        self.claim_ms = claim_minutes * 60_000

    # -- reads -------------------------------------------------------------------------------
    def get(self, review_id: str) -> Row:
        item = self.store.reviews.get(review_id)
        if item is None:
            raise NotFound(f"no review item {review_id!r}")
        return item

    def page(
        self, status: str = "open", sort: str = "priority", limit: int = 50, cursor: str = ""
    ) -> Row:
        if status not in STATUSES:
            raise Invalid("invalid status", [Problem("status", f"one of {', '.join(STATUSES)}")])
        if sort not in SORTS:
            raise Invalid("invalid sort", [Problem("sort", f"one of {', '.join(SORTS)}")])
        limit = max(1, min(limit, MAX_LIMIT))
        now = now_ms()
        queue = self.store.reviews
        if sort == "priority":
            # The first page starts above any priority (they are at most 100).
            first, last_id = _decode(cursor) if cursor else (1e18, "")
            rows = queue.page_by_priority(status, now, limit, float(first), last_id)
            next_cursor = _encode([rows[-1]["priority"], rows[-1]["id"]]) if rows else cursor
        else:
            first, last_id = _decode(cursor) if cursor else (-1, "")
            rows = queue.page_by_created(status, now, limit, int(first), last_id)
            next_cursor = _encode([rows[-1]["created_at"], rows[-1]["id"]]) if rows else cursor
        return {
            "items": [self.view(r, now) for r in rows],
            "next_cursor": next_cursor,
            "more": len(rows) == limit,
        }

    @staticmethod
    def view(row: Mapping[str, Any], now: int | None = None) -> Row:
        """The item as clients see it: a lapsed claim is shown as open, without its claimant."""
        now = now_ms() if now is None else now
        out = {k: v for k, v in row.items() if k not in ("claim_token", "version")}
        out["source"] = orjson.loads(row["source"]) if row.get("source") else None
        if row["status"] == "claimed" and int(row["claim_expires"] or 0) <= now:
            out.update(status="open", claimant=None, claimant_name=None, claim_expires=None)
        return out

    # -- claim ---------------------------------------------------------------------------------
    def claim(self, review_id: str, actor: Actor) -> Row:
        item = self.get(review_id)
        now = now_ms()
        self._check_claimable(item, actor, now)
        token = uuid.uuid4().hex
        expires = now + self.claim_ms
        before = self.view(item, now)
        row = {
            "id": review_id,
            "version": item["version"],
            "claimant": actor.id,
            "claimant_name": actor.name,
            "token": token,
            "expires": expires,
            "audit_id": new_id(),
            "actor": actor.label,
            "reason": "claim",
            "before": dumps(
                {"review": review_id, "status": before["status"], "claimant": before["claimant"]}
            ),
            "after": dumps(
                {
                    "review": review_id,
                    "status": "claimed",
                    "claimant": actor.id,
                    "claim_expires": expires,
                }
            ),
        }
        self.store.apply_statements(f"review-claim:{token}", [claim_statement(row, now)], now=now)
        after = self.get(review_id)
        if after["claim_token"] != token:
            # The item changed between our read and our write (a concurrent claim or resolve).
            self._check_claimable(after, actor, now_ms())
            raise Conflict(f"review item {review_id} changed concurrently; retry")
        return self.view(after)

    def _check_claimable(self, item: Mapping[str, Any], actor: Actor, now: int) -> None:
        if item["status"] == "resolved":
            raise Conflict(f"review item {item['id']} is already resolved")
        if (
            item["status"] == "claimed"
            and int(item["claim_expires"] or 0) > now
            and item["claimant"] != actor.id
        ):
            who = item["claimant_name"] or item["claimant"]
            raise Conflict(
                f"review item {item['id']} is claimed by {who} until {item['claim_expires']}"
            )

    # -- resolve -------------------------------------------------------------------------------
    def resolve(self, review_id: str, actor: Actor, label: str, note: str = "") -> Row:
        if label not in LABELS:
            raise Invalid("invalid label", [Problem("label", f"one of {', '.join(LABELS)}")])
        note = note[:MAX_NOTE]
        item = self.get(review_id)
        if item["status"] == "resolved":
            if item["resolved_by"] == actor.id and item["label"] == label:
                return self.view(item)  # the same person's retry: already done
            raise Conflict(f"review item {review_id} is already resolved")
        now = now_ms()
        self._check_claimable(item, actor, now)
        # Batch id per item: whatever races, one resolution (and one set of effects) commits.
        batch_id = f"review-resolve:{review_id}"
        token = uuid.uuid4().hex
        statements, effects, accounts = self._effects(item, actor, label, note, batch_id, now)
        subject_audit: list[Row] = effects.pop("_audit")
        resolution = {
            "id": review_id,
            "label": label,
            "note": note,
            "actor_id": actor.id,
            "actor_name": actor.name,
            "token": token,
        }
        audit_rows = [
            entry(
                actor,
                "review.resolved",
                item["subject_type"],
                item["subject_id"],
                reason=note or label,
                before={
                    "review": review_id,
                    "status": self.view(item, now)["status"],
                    "claimant": item["claimant"],
                },
                after={"review": review_id, "status": "resolved", "label": label, **effects},
                entry_id=f"aud_{batch_id}",
            ),
            *subject_audit,
        ]
        statements = [
            resolve_statement(resolution, now),
            *statements,
            append_statement(audit_rows, now),
        ]
        self.store.apply_statements(batch_id, statements, now=now)
        after = self.get(review_id)
        if after.get("label") != label or after.get("resolved_by") != actor.id:
            raise Conflict(f"review item {review_id} was resolved concurrently")
        mark_dirty(self.redis, accounts)
        return {**self.view(after), "effects": effects}

    def _effects(
        self, item: Mapping[str, Any], actor: Actor, label: str, note: str, batch_id: str, now: int
    ) -> tuple[list[Statement], Row, list[str]]:
        """The label's statements, a summary for the audit entry (with the per-subject audit
        rows under `_audit`), and the accounts whose state changes."""
        effects: Row = {"_audit": []}
        if label == "unsure":
            return [], effects, []
        ring: Row | None = None
        if item["subject_type"] == "ring":
            ring = self.store.ring(item["subject_id"])
            if ring is None:
                raise NotFound(f"the ring {item['subject_id']!r} of this item no longer exists")
            accounts = sorted(str(m["id"]) for m in ring["members"])
        else:
            accounts = [str(item["subject_id"])]
        action = {"fraud": self.fraud_action, "underage": "age_gate", "legit": "clear"}[label]
        reason = f"review {item['id']}: {label}" + (f" ({note})" if note else "")
        before = self.store.reviews.account_states(accounts)
        accounts = [a for a in accounts if a in before]  # accounts are never deleted; be safe
        records, statements = enforcement_statements(
            self.ingest, batch_id, item["id"], accounts, action, actor=actor, reason=reason, now=now
        )
        effects.update(action=action, accounts=accounts)
        detail = {"action": action, "label": label, "review": item["id"]}
        outbox = [
            changes.change(
                "actioned", "account", a, {**detail, "ring_id": ring["id"] if ring else None}
            )
            for a in accounts
        ]
        effects["_audit"] += [
            entry(
                actor,
                f"account.{action}",
                "account",
                a,
                reason=reason,
                before={"status": before[a].get("status")},
                after={"status": action, "review": item["id"], "label": label},
                entry_id=f"aud_{batch_id}:account:{a}",
            )
            for a in accounts
        ]
        if ring is not None:
            outbox.insert(
                0,
                changes.change(
                    "actioned",
                    "ring",
                    ring["id"],
                    {**detail, "members": len(accounts), "verdict": ring["verdict"]},
                ),
            )
            if label == "legit":
                identifiers = evidence_identifiers(orjson.loads(ring["evidence"] or "{}"))
                print_ = fingerprint(identifiers)
                statements.append(
                    suppress_ring_statement(
                        {
                            "ring": ring["id"],
                            "identifiers": dumps(identifiers),
                            "fingerprint": print_,
                            "review": item["id"],
                        },
                        now,
                    )
                )
                effects["suppressed"] = {"fingerprint": print_, "identifiers": len(identifiers)}
                if ring["verdict"] != "benign":
                    outbox.insert(
                        1,
                        changes.change(
                            "cleared",
                            "ring",
                            ring["id"],
                            {"was": ring["verdict"], "reason": "review", "review": item["id"]},
                        ),
                    )
                effects["_audit"].append(
                    entry(
                        actor,
                        "ring.suppressed",
                        "ring",
                        ring["id"],
                        reason=reason,
                        before={"verdict": ring["verdict"]},
                        after={"verdict": "benign", "fingerprint": print_, "review": item["id"]},
                        entry_id=f"aud_{batch_id}:ring",
                    )
                )
        statements.append(record_statement(outbox, item["id"], now))
        return statements, effects, [str(r["a"]) for r in records]
