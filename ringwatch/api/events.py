"""POST /v1/events: validate, accept durably, answer 202; workers write the graph."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ringwatch.api.deps import QueueDep, ServicesDep, SettingsDep
from ringwatch.errors import Invalid, Problem, TooLarge
from ringwatch.observability import EVENTS

router = APIRouter(prefix="/v1", tags=["events"])


class RejectedEvent(BaseModel):
    index: int
    field: str
    reason: str


class EventsAccepted(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[RejectedEvent]
    batches: list[str]


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"body over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"body over {limit} bytes")
    return bytes(body)


def _parse(body: bytes) -> tuple[list[Any], list[Problem]]:
    """A JSON array, or NDJSON (one event per line). Unparseable NDJSON lines become rejections."""
    text = body.strip()
    if not text:
        raise Invalid("empty body", [Problem(field="body", reason="no events")])
    if text[:1] == b"[":
        try:
            events = orjson.loads(text)
        except orjson.JSONDecodeError as e:
            raise Invalid("body is not valid JSON", [Problem(field="body", reason=str(e))]) from e
        return events, []
    lines: list[Any] = []
    problems: list[Problem] = []
    for index, line in enumerate(text.split(b"\n")):
        try:
            lines.append(orjson.loads(line))
        except orjson.JSONDecodeError as e:
            lines.append(None)
            problems.append(Problem(index=index, field="event", reason=f"not valid JSON: {e}"))
    return lines, problems


@router.post(
    "/events",
    status_code=202,
    response_model=EventsAccepted,
    responses={413: {"description": "body too large"}, 422: {"description": "no valid event"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}
                },
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
)
async def post_events(
    request: Request, services: ServicesDep, settings: SettingsDep, queue: QueueDep
) -> EventsAccepted:
    body = await _read_body(request, settings.max_body_bytes)
    raw, parse_problems = _parse(body)
    if len(raw) > settings.max_events_per_request:
        raise TooLarge(f"{len(raw)} events; at most {settings.max_events_per_request} per request")
    bad_lines = {p.index for p in parse_problems}
    items = [(i, e) for i, e in enumerate(raw) if i not in bad_lines]
    # Validation and hashing are CPU work: off the event loop so other requests keep flowing.
    report = await run_in_threadpool(services.ingest.accept, items, queue)
    rejected = sorted(parse_problems + report.rejected, key=lambda p: (p.index or 0, p.field))
    EVENTS.labels("accepted").inc(report.accepted)
    EVENTS.labels("duplicate").inc(report.duplicates)
    EVENTS.labels("rejected").inc(len(rejected))
    if report.accepted == 0 and report.duplicates == 0:
        raise Invalid("no valid event in the request", rejected)
    return EventsAccepted(
        accepted=report.accepted,
        duplicates=report.duplicates,
        rejected=[
            RejectedEvent(index=p.index or 0, field=p.field, reason=p.reason) for p in rejected
        ],
        batches=report.batches,
    )
