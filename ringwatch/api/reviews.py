"""Investigators: the review queue (list, claim, resolve with a label) and the audit log."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ringwatch.api.auth import PrincipalDep
from ringwatch.api.deps import ServicesDep
from ringwatch.api.responses import TYPED, AuditPage, ResolvedReview, ReviewItem, ReviewPage
from ringwatch.services import audit
from ringwatch.services.audit import Actor
from ringwatch.services.reviews import MAX_LIMIT, MAX_NOTE
from ringwatch.vocabulary import ReviewLabel as Label
from ringwatch.vocabulary import ReviewStatus as Status

router = APIRouter(prefix="/v1", tags=["reviews"])

IdPath = Annotated[str, Path(min_length=1, max_length=200)]


class Sort(StrEnum):
    PRIORITY = "priority"
    CREATED = "created"


class Resolution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: Label
    note: str = Field(default="", max_length=MAX_NOTE)


@router.get(
    "/reviews",
    response_model=ReviewPage,
    **TYPED,
    summary="Review items by status, highest priority (or oldest) first",
)
async def list_reviews(
    services: ServicesDep,
    status: Status = Status.OPEN,
    sort: Sort = Sort.PRIORITY,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[
        str, Query(max_length=400, description="next_cursor of the previous page")
    ] = "",
) -> dict[str, Any]:
    queue = services.reviews
    return await run_in_threadpool(queue.page, status.value, sort.value, limit, cursor)


@router.get("/reviews/{review_id}", response_model=ReviewItem, **TYPED, summary="One review item")
async def get_review(services: ServicesDep, review_id: IdPath) -> dict[str, Any]:
    queue = services.reviews
    return queue.view(await run_in_threadpool(queue.get, review_id))


@router.post(
    "/reviews/{review_id}/claim", response_model=ReviewItem, **TYPED,
    summary="Claim an item for a while (409 if someone else holds it or it is resolved)",
)
async def claim_review(
    services: ServicesDep, principal: PrincipalDep, review_id: IdPath
) -> dict[str, Any]:
    actor = Actor(principal.key_id, principal.name)
    return await run_in_threadpool(services.reviews.claim, review_id, actor)


@router.post(
    "/reviews/{review_id}/resolve", response_model=ResolvedReview, **TYPED,
    summary="Resolve with a label and a note; the label's enforcement is applied (409 if taken)",
)
async def resolve_review(
    services: ServicesDep, principal: PrincipalDep, review_id: IdPath, body: Resolution
) -> dict[str, Any]:
    actor = Actor(principal.key_id, principal.name)
    queue = services.reviews
    return await run_in_threadpool(queue.resolve, review_id, actor, body.label.value, body.note)


@router.get(
    "/audit",
    response_model=AuditPage,
    **TYPED,
    tags=["audit"],
    summary="Audit entries in time order, for one subject or all",
)
async def list_audit(
    services: ServicesDep,
    subject: Annotated[
        str | None,
        Query(max_length=250, description="ring:ID or account:ID; all subjects if omitted"),
    ] = None,
    after: Annotated[
        str, Query(max_length=audit.MAX_CURSOR_LENGTH, description="next_cursor of a page")
    ] = "",
    limit: Annotated[int, Query(ge=1, le=audit.MAX_LIMIT)] = 100,
) -> dict[str, Any]:
    return await run_in_threadpool(audit.page, services.store, subject, after, limit)
