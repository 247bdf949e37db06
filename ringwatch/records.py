"""Validated event -> normalised, pseudonymised record: the only shape stored or queued.

Records are plain dicts with short keys because millions of them sit in Redis and travel to
workers; `Record` documents the keys for type checkers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

from ringwatch.events import (
    EnforcementEvent,
    EngageEvent,
    Event,
    EventType,
    LoginEvent,
    PaymentEvent,
    ProfileUpdateEvent,
    RelationEvent,
    SignupEvent,
)
from ringwatch.identity import (
    IdentifierKind,
    NormaliseError,
    Pseudonymiser,
    email_stem,
    emulator_family,
    fold_text,
    normalise_email,
    normalise_ip,
    normalise_phone,
    phone_block,
    phone_runs,
)


class Record(TypedDict):
    id: str  # event_id
    t: str  # event type
    ts: int  # epoch milliseconds
    a: str  # account id
    ids: list[list[str]]  # [[kind, key], ...] identifiers linked to the account by this event
    ip_subnet: NotRequired[list[str]]  # [ip key, subnet] so the IP node can point at its subnet
    email_domain: NotRequired[list[str]]  # [email key, domain]
    profile: NotRequired[dict[str, Any]]
    target: NotRequired[str]
    action: NotRequired[str]
    value: NotRequired[float]
    other: NotRequired[str]
    kind: NotRequired[str]
    reason: NotRequired[str]
    actor: NotRequired[str]
    amount: NotRequired[float]


INVITED_BY = "invited_by"
_KIND_TEXT = {kind: kind.value for kind in IdentifierKind}  # plain str, as records travel as JSON
# Looked up once here, not per event: an enum member's `.value` is a descriptor call, and
# `A | B` in an isinstance builds a new union object every time (a fifth of `normalise` was
# such overhead on a 100k-account world).
_SUBNET = IdentifierKind.SUBNET.value
_EMAIL_DOMAIN = IdentifierKind.EMAIL_DOMAIN.value
_EMULATOR = IdentifierKind.EMULATOR.value
_WITH_PROFILE = (SignupEvent, ProfileUpdateEvent)
_WITH_AGENT = (SignupEvent, LoginEvent)
_TYPE_TEXT = {t: t.value for t in EventType}


class FieldError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _field(name: str, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except NormaliseError as e:
        raise FieldError(name, str(e)) from e


def normalise(event: Event, hasher: Pseudonymiser) -> Record:
    """Raises `FieldError` for a value that passed the schema but cannot be normalised."""
    record: Record = {
        "id": event.event_id,
        "t": _TYPE_TEXT[event.type],
        "ts": int(event.ts.timestamp() * 1000),
        "a": event.account_id,
        "ids": [],
    }
    ids = record["ids"]
    # The model's field values as a plain dict: `getattr(event, name, None)` on a pydantic model
    # goes through its __getattr__ and raises inside for every field the type lacks, which was a
    # tenth of an ingest profile.
    fields = event.__dict__
    country = fields.get("country")

    def link(kind: IdentifierKind, clear: str) -> str:
        key = hasher.digest(kind, clear)
        ids.append([_KIND_TEXT[kind], key])
        return key

    device = fields.get("device_id")
    device_key = link(IdentifierKind.DEVICE, device.strip()) if device else None
    ip = fields.get("ip")
    if ip:
        address, subnet = _field("ip", normalise_ip, ip)
        record["ip_subnet"] = [link(IdentifierKind.IP, address), subnet]
        ids.append([_SUBNET, subnet])
    card = fields.get("card")
    if card:
        link(IdentifierKind.CARD, card.strip())
    profile: dict[str, Any] = {}
    email = fields.get("email")
    if email:
        address, local, domain = _field("email", normalise_email, email)
        record["email_domain"] = [link(IdentifierKind.EMAIL, address), domain]
        ids.append([_EMAIL_DOMAIN, domain])
        profile["email_sketch"] = hasher.sketch(local, "email-local")
        if stem := email_stem(local, domain):
            link(IdentifierKind.EMAIL_STEM, "\x1f".join(stem))
    phone = fields.get("phone")
    if phone:
        number = _field("phone", normalise_phone, phone, country)
        link(IdentifierKind.PHONE, number)
        link(IdentifierKind.PHONE_BLOCK, phone_block(number))
        for window in phone_runs(number):
            link(IdentifierKind.PHONE_RUN, window)

    if isinstance(event, _WITH_PROFILE):
        if event.display_name:
            profile["name_sketch"] = hasher.sketch(event.display_name, "name")
        if event.birthdate:
            profile["birthdate"] = event.birthdate
        if event.country:
            profile["country"] = event.country
        if event.city:
            profile["city"] = fold_text(event.city)
    if isinstance(event, _WITH_AGENT) and event.user_agent:
        profile["ua"] = hasher.digest(IdentifierKind.DEVICE, "ua\x1f" + event.user_agent)[:16]
        # Classified before the agent is hashed: the digest cannot tell an emulator's agent.
        # One node per emulator instance (its family and the device's keyed hash): accounts
        # sharing it share the emulator, where strangers merely run the same product.
        if device_key and (emulator := emulator_family(event.user_agent)):
            ids.append([_EMULATOR, f"{emulator}:{device_key}"])
    if profile:
        record["profile"] = profile

    if isinstance(event, SignupEvent) and event.invited_by:
        # The inviter invited this account: the edge runs inviter -> invitee, like a relation
        # event of kind "invite" sent by the inviter.
        record["other"] = event.invited_by.strip()
        record["kind"] = INVITED_BY
    elif isinstance(event, RelationEvent):
        record["other"] = event.other_account_id
        record["kind"] = event.kind.value
    elif isinstance(event, EngageEvent):
        record["target"] = event.target_id
        record["action"] = event.action.value
        if event.value is not None:
            record["value"] = event.value
    elif isinstance(event, EnforcementEvent):
        record["action"] = event.action.value
        if event.reason:
            record["reason"] = event.reason
        if event.actor:
            record["actor"] = event.actor
    elif isinstance(event, PaymentEvent) and event.amount is not None:
        record["amount"] = event.amount
    return record


def on_emulator(rec: Mapping[str, Any] | None) -> bool | None:
    """Whether a record's event came from an emulator instance (`normalise` links one); None
    when the event carried no user agent."""
    if rec is None or "ua" not in (rec.get("profile") or {}):
        return None
    return any(kind == _EMULATOR for kind, _ in rec["ids"])


def relation_edge(rec: Mapping[str, Any]) -> tuple[str, tuple[str, str]]:
    """(relation kind, (from account, to account)) of a record that relates two accounts."""
    if rec["kind"] == INVITED_BY:
        return "invite", (rec["other"], rec["a"])
    return str(rec["kind"]), (str(rec["a"]), str(rec["other"]))
