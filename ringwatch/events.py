"""The event contract: one JSON object per event, validated here and nowhere else.

`docs/events.md` documents it; `ringwatch/schemas/event.schema.json` is generated from these models
(`ringwatch schema`), so the published JSON Schema cannot drift from what the API enforces.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from ringwatch.errors import Problem

# Control characters are never part of a real identifier or note, and one inside a query
# parameter brought the embedded engine down (found by the schemathesis fuzzer): refused here.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _no_control_in_text(value: str) -> str:
    if _CONTROL_IN_TEXT.search(value):
        raise ValueError("must not contain control characters other than tab and newline")
    return value


Id = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_control),
]
ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=500),
    AfterValidator(_no_control_in_text),
]
Country = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$")
]


class EventType(StrEnum):
    SIGNUP = "signup"
    LOGIN = "login"
    PROFILE_UPDATE = "profile_update"
    PAYMENT = "payment"
    ENGAGE = "engage"
    RELATION = "relation"
    ENFORCEMENT = "enforcement"


class EngageAction(StrEnum):
    LIKE = "like"
    FOLLOW = "follow"
    COMMENT = "comment"
    REVIEW = "review"
    SHARE = "share"
    REPORT = "report"
    VIEW = "view"
    MESSAGE = "message"


class RelationKind(StrEnum):
    FRIEND = "friend"
    FOLLOW = "follow"
    INVITE = "invite"
    BLOCK = "block"


class EnforcementAction(StrEnum):
    BAN = "ban"
    SUSPEND = "suspend"
    RESTRICT = "restrict"
    AGE_GATE = "age_gate"
    VERIFY = "verify"
    CLEAR = "clear"


_BIRTHDATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: Id
    ts: dt.datetime = Field(description="RFC 3339 timestamp with a UTC offset")
    account_id: Id

    @field_validator("ts")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("timestamp needs a UTC offset (RFC 3339), e.g. 2026-01-31T12:00:00Z")
        return value.astimezone(dt.UTC)


class _Profile(BaseModel):
    display_name: ShortText | None = None
    birthdate: str | None = Field(default=None, description="YYYY-MM-DD")
    country: Country | None = Field(default=None, description="ISO 3166-1 alpha-2")
    city: ShortText | None = None

    @field_validator("birthdate")
    @classmethod
    def _date(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _BIRTHDATE.match(value):
            raise ValueError("birthdate must be YYYY-MM-DD")
        born = dt.date.fromisoformat(value)
        if born.year < 1900 or born > dt.date.today():
            raise ValueError("birthdate out of range")
        return value


class SignupEvent(_Base, _Profile):
    type: Literal[EventType.SIGNUP]
    device_id: Id | None = None
    ip: ShortText | None = None
    email: ShortText | None = None
    phone: ShortText | None = None
    card: Id | None = None
    user_agent: ShortText | None = None
    invited_by: Id | None = None


class LoginEvent(_Base):
    type: Literal[EventType.LOGIN]
    device_id: Id | None = None
    ip: ShortText | None = None
    user_agent: ShortText | None = None


class ProfileUpdateEvent(_Base, _Profile):
    type: Literal[EventType.PROFILE_UPDATE]
    email: ShortText | None = None
    phone: ShortText | None = None


class PaymentEvent(_Base):
    type: Literal[EventType.PAYMENT]
    card: Id
    ip: ShortText | None = None
    device_id: Id | None = None
    amount: float | None = Field(default=None, ge=0)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")] | None = None


class EngageEvent(_Base):
    type: Literal[EventType.ENGAGE]
    target_id: Id
    action: EngageAction
    value: float | None = None


class RelationEvent(_Base):
    type: Literal[EventType.RELATION]
    other_account_id: Id
    kind: RelationKind


class EnforcementEvent(_Base):
    type: Literal[EventType.ENFORCEMENT]
    action: EnforcementAction
    reason: ShortText | None = None
    actor: ShortText | None = None


Event = Annotated[
    SignupEvent
    | LoginEvent
    | ProfileUpdateEvent
    | PaymentEvent
    | EngageEvent
    | RelationEvent
    | EnforcementEvent,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
# The core validator itself: `TypeAdapter.validate_python` is a Python layer over it that
# passes its default options on every call (5% of validating an event).
_VALIDATE = EVENT_ADAPTER.validator.validate_python


def parse_event(raw: Any) -> Event:
    """Validate one raw event; raises `pydantic.ValidationError`."""
    event: Event = _VALIDATE(raw)
    return event


def problems_of(error: ValidationError, index: int) -> list[Problem]:
    """Turn pydantic's errors into `{index, field, reason}` items an API client can act on."""
    problems = []
    for item in error.errors(include_url=False):
        # A discriminated union puts the variant's tag first in the location; drop it so the
        # field reads as the client wrote it.
        loc = [str(p) for p in item["loc"]]
        if loc and loc[0] in {t.value for t in EventType}:
            loc = loc[1:]
        reason = item["msg"]
        if item["type"] == "union_tag_invalid":
            reason = "unknown event type; expected one of: " + ", ".join(t.value for t in EventType)
            loc = ["type"]
        elif item["type"] == "union_tag_not_found":
            loc = ["type"]
            reason = "missing event type"
        elif item["type"] == "extra_forbidden":
            reason = "unknown field for this event type"
        problems.append(Problem(index=index, field=".".join(loc) or "event", reason=reason))
    return problems


def json_schema(ref_template: str = "#/$defs/{model}") -> dict[str, Any]:
    schema = EVENT_ADAPTER.json_schema(ref_template=ref_template)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Ringwatch event"
    return schema
