"""Automated enforcement: webhook subscriptions, their dead letters and manual redelivery."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ringwatch.api.deps import ServicesDep
from ringwatch.api.responses import (
    TYPED,
    DeadLetters,
    Redelivery,
    Webhook,
    WebhookCreated,
    WebhookList,
)
from ringwatch.services.context import Services
from ringwatch.services.webhooks import MAX_DELAY_S, SUBJECTS, WebhookService

router = APIRouter(prefix="/v1", tags=["webhooks"])

SubId = Annotated[str, Path(min_length=1, max_length=64)]
T = TypeVar("T")


class WebhookCreate(BaseModel):
    url: str = Field(max_length=2000, description="http(s) endpoint receiving signed POSTs")
    kinds: list[str] = Field(
        default=["*"], min_length=1, max_length=50, description='change kinds, or ["*"]'
    )
    subjects: list[str] = Field(default=list(SUBJECTS), min_length=1, max_length=2)
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=200,
        description="HMAC key; generated when absent. Returned once, in this response only.",
    )
    max_delay_s: int = Field(
        default=0,
        ge=0,
        le=MAX_DELAY_S,
        description="each change is held a random 0..max_delay_s seconds before delivery",
    )
    after: str | None = Field(
        default=None,
        max_length=200,
        description="a verdict-feed cursor to start from; default: changes from now on",
    )


async def _call(services: Services, work: Callable[[WebhookService], T]) -> T:
    # Management calls send no HTTP, so the service's client is never opened here.
    return await run_in_threadpool(work, services.webhooks)


@router.post(
    "/webhooks",
    response_model=WebhookCreated,
    **TYPED,
    status_code=201,
    summary="Subscribe a URL to verdict changes",
)
async def create_webhook(services: ServicesDep, body: WebhookCreate) -> dict[str, Any]:
    return await _call(
        services,
        lambda s: s.create(
            body.url, body.kinds, body.subjects, body.secret, body.max_delay_s, body.after
        ),
    )


@router.get(
    "/webhooks",
    response_model=WebhookList,
    **TYPED,
    summary="List subscriptions with their delivery state (no secrets)",
)
async def list_webhooks(services: ServicesDep) -> dict[str, Any]:
    return {"items": await _call(services, lambda s: s.list_subscriptions())}


@router.get(
    "/webhooks/{sub_id}",
    response_model=Webhook,
    **TYPED,
    summary="One subscription and its delivery state",
)
async def get_webhook(services: ServicesDep, sub_id: SubId) -> dict[str, Any]:
    return await _call(services, lambda s: s.get(sub_id))


@router.delete("/webhooks/{sub_id}", status_code=204, summary="Unsubscribe")
async def delete_webhook(services: ServicesDep, sub_id: SubId) -> Response:
    await _call(services, lambda s: s.delete(sub_id))
    return Response(status_code=204)


@router.get(
    "/webhooks/{sub_id}/dead",
    response_model=DeadLetters,
    **TYPED,
    summary="Changes that exhausted their delivery attempts",
)
async def dead_letters(
    services: ServicesDep,
    sub_id: SubId,
    after: Annotated[int, Query(ge=0, description="next_after of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    return await _call(services, lambda s: s.dead_letters(sub_id, after, limit))


@router.post(
    "/webhooks/{sub_id}/dead/{seq}/redeliver", response_model=Redelivery, **TYPED,
    status_code=202,
    summary="Send a dead letter again at the next delivery pass",
)
async def redeliver(
    services: ServicesDep, sub_id: SubId, seq: Annotated[int, Path(ge=1)]
) -> dict[str, Any]:
    return await _call(services, lambda s: s.redeliver(sub_id, seq))
