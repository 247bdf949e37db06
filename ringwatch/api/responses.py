"""What every route answers, declared so that the OpenAPI document describes what clients get.

The services build plain dicts; these models name the fields clients may rely on. Every model
allows extra fields: a route that gains a field does not silently drop it from a response, and
clients must ignore fields they do not know (docs/security.md). Routes return these with
`response_model_exclude_unset`, so an absent optional field stays absent rather than becoming
null.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

Number = int | float

# Passed to every route decorator with a response model.
TYPED: dict[str, Any] = {"response_model_exclude_unset": True}


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- rings and accounts ----------------------------------------------------------------------
class RingSummary(Open):
    id: str
    verdict: str
    score: Number
    size: int
    created_at: int | None = None
    updated_at: int | None = None


class RingPage(Open):
    items: list[RingSummary]
    next_cursor: str | None = None


class RingMember(Open):
    id: str
    risk: Number | None = None
    status: str | None = None
    banned_at: int | None = None
    created_at: int | None = None


class RingDetail(RingSummary):
    status: str | None = None
    evidence: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    members: list[RingMember]


class RingRef(Open):
    id: str
    verdict: str | None = None
    score: Number | None = None
    size: int | None = None
    status: str | None = None


class AccountView(Open):
    id: str
    created_at: int | None = None
    first_seen: int | None = None
    last_seen: int | None = None
    events: int | None = None
    status: str | None = None
    banned_at: int | None = None
    country: str | None = None
    risk: Number | None = None
    evader_score: Number | None = None
    sybil_score: Number | None = None
    engagement_score: Number | None = None
    ring_id: str | None = None
    rings: list[RingRef] = []
    evader_matches: list[dict[str, Any]] = []
    identifiers: dict[str, list[dict[str, Any]]] = {}
    identifier_counts: dict[str, int] = {}


class Persona(Open):
    account_id: str
    status: str | None = None
    created_at: int | None = None
    last_seen: int | None = None
    scores: dict[str, Number | None] = {}
    rings: list[RingRef] = []
    evader_matches: list[dict[str, Any]] = []
    identifiers: dict[str, int] = {}
    age: dict[str, Any] = {}
    enforcement_history: list[dict[str, Any]] = []
    recent_decisions: list[dict[str, Any]] = []


class RingActionResult(Open):
    ring_id: str
    operation: str
    action: str
    members: list[str]
    excluded_banned: bool
    subset: bool
    replayed: bool
    at: int | None = None


# -- enforcement feed and webhooks -------------------------------------------------------------
class VerdictChange(Open):
    seq: int
    kind: str
    subject: str
    subject_id: str
    at: str
    run: str | None = None
    detail: dict[str, Any] = {}


class VerdictPage(Open):
    items: list[VerdictChange]
    next_cursor: str | None = None


class Webhook(Open):
    id: str
    url: str
    kinds: list[str]
    subjects: list[str]
    max_delay_s: Number
    created_at: str
    cursor: str | None = None
    pending: int | None = None
    delivered: int | None = None
    dead: int | None = None
    inflight: Any = None


class WebhookCreated(Webhook):
    secret: str


class WebhookList(Open):
    items: list[Webhook]


class DeadLetters(Open):
    items: list[dict[str, Any]]
    next_after: int


class Redelivery(Open):
    id: str
    seq: int
    queued: bool


# -- detection runs ----------------------------------------------------------------------------
class DetectionRun(Open):
    run_id: str
    kind: str
    started_at: int | None = None
    finished_at: int | None = None
    accounts: int | None = None
    rings: int | None = None
    evaders: int | None = None
    timings: dict[str, Number] = {}
    verdict_model: dict[str, Any] | None = None


class DetectionRuns(Open):
    runs: list[DetectionRun]


class DetectionShadow(Open):
    run_id: str
    candidate: dict[str, Any]
    live: dict[str, Any]
    comparison: dict[str, Any]


# -- strategies --------------------------------------------------------------------------------
class Strategies(Open):
    live: str
    shadows: list[str]
    available: list[str]


class StrategyShadow(Open):
    strategy: str
    live: str
    decisions: int
    agreement: Number | None = None
    candidate_stricter: int | None = None
    candidate_looser: int | None = None
    action_mix: dict[str, Any] = {}
    rules_fired: dict[str, Any] = {}
    confusion: dict[str, Any] = {}


# -- reviews and audit -------------------------------------------------------------------------
class ReviewItem(Open):
    id: str
    kind: str
    subject_type: str
    subject_id: str
    status: str
    priority: Number
    source: dict[str, Any] | None = None
    sources: int | None = None
    claimant: str | None = None
    claimant_name: str | None = None
    claimed_at: int | None = None
    claim_expires: int | None = None
    label: str | None = None
    note: str | None = None
    resolved_by: str | None = None
    resolved_at: int | None = None
    created_at: int | None = None
    updated_at: int | None = None


class ResolvedReview(ReviewItem):
    effects: dict[str, Any]


class ReviewPage(Open):
    items: list[ReviewItem]
    next_cursor: str | None = None
    more: bool


class AuditEntry(Open):
    id: str
    at: int
    actor: str
    action: str
    subject_type: str
    subject_id: str
    reason: str | None = None
    before: Any = None
    after: Any = None


class AuditPage(Open):
    items: list[AuditEntry]
    next_cursor: str | None = None
    more: bool


# -- analysts ----------------------------------------------------------------------------------
class CypherResult(Open):
    columns: list[str]
    rows: list[Any]
    truncated: bool
    elapsed_ms: Number | None = None
    engine: str | None = None


class Investigation(Open):
    name: str
    description: str | None = None
    params: list[dict[str, Any]] = []


class Investigations(Open):
    items: list[Investigation]


# -- keys and health ---------------------------------------------------------------------------
class KeyInfo(Open):
    key_id: str
    role: str
    name: str | None = None
    created_at: str | None = None
    revoked: bool
    revoked_at: str | None = None
    rate_limit: int | None = None
    created_by: str | None = None


class KeyCreated(KeyInfo):
    key: str


class KeyList(Open):
    items: list[KeyInfo]


class Alive(Open):
    status: str


class Readiness(Open):
    status: str
    checks: dict[str, str]
    engine: str | None = None
    pending_batches: int | None = None
