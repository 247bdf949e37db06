"""Enforcement asks at checkpoints: what should happen to this account now, and why?"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ringwatch.api.deps import QueueDep, ServicesDep
from ringwatch.api.offload import run_blocking
from ringwatch.api.responses import TYPED, Persona, Strategies, StrategyShadow
from ringwatch.observability import DECISIONS
from ringwatch.services import persona
from ringwatch.services.context import Services
from ringwatch.services.ingest import BatchQueue
from ringwatch.services.keys import Admission
from ringwatch.vocabulary import Checkpoint

router = APIRouter(prefix="/v1", tags=["decisions"])


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: str = Field(min_length=1, max_length=200)
    checkpoint: Checkpoint
    context: dict[str, Any] | None = Field(
        default=None,
        description="The event at this checkpoint (docs/events.md); it is ingested too. "
        "account_id may be left out.",
    )


class Reason(BaseModel):
    rule: str
    points: int
    reason: str
    seen: dict[str, Any]


class DecisionResponse(BaseModel):
    decision_id: str
    account_id: str
    checkpoint: str
    action: str
    score: int
    reasons: list[Reason]
    ring: dict[str, Any] | None
    evader: dict[str, Any] | None
    strategy: str
    strategy_version: str
    at: int


@router.post("/decisions", response_model=DecisionResponse)
async def decide(body: DecisionRequest, services: ServicesDep, queue: QueueDep) -> Response:
    # Well-formed requests are answered before they reach here (api/decision_route.py); this
    # endpoint serves the rest (a JSON only Python's parser takes) and documents the route.
    return Response(await answer(body, services, queue), media_type="application/json")


async def answer(body: DecisionRequest, services: Services, queue: BatchQueue) -> bytes:
    """The decision on `body`, serialised: what both routes to it answer."""
    # The decision's Redis and graph round trips block: one hop to the pool, the cheap one.
    return await run_blocking(decide_now, services, body, queue)


def decide_now(
    services: Services,
    body: DecisionRequest,
    queue: BatchQueue,
    admission: Admission | None = None,
) -> bytes:
    """`answer`, blocking: for a caller already in a pool thread. `admission`: the caller's
    key, checked by the decision itself (`DecisionService.decide`) rather than beforehand."""
    decision = services.decisions.decide(
        body.account_id, body.checkpoint.value, body.context, queue, admission=admission
    )
    return _presented(decision)


async def decide_on_loop(
    services: Services, body: DecisionRequest, queue: BatchQueue, admission: Admission
) -> bytes:
    """`decide_now` from the event loop: the decision's Redis round trips are made by the loop,
    only its graph read and rules go to the pool (`DecisionService.decide_async`). Shielded:
    a decision begun is finished and recorded even if its caller goes away, as in a thread."""
    decision = services.decisions.decide_async(
        body.account_id,
        body.checkpoint.value,
        body.context,
        queue,
        run_blocking,
        admission=admission,
    )
    return _presented(await asyncio.shield(decision))


def _presented(decision: dict[str, Any]) -> bytes:
    DECISIONS.labels(str(decision.get("action", "unknown"))).inc()
    # DecisionService built this dict field by field: validating it again against
    # DecisionResponse (which documents it) cost more CPU than the strategy's rules. The test
    # of the route checks the answer against the model instead.
    return orjson.dumps(decision)


@router.get(
    "/strategies",
    response_model=Strategies,
    **TYPED,
    summary="The live strategy and the shadow candidates",
)
async def strategies(services: ServicesDep) -> dict[str, Any]:
    s = services.decisions.strategies
    return {
        "live": s.live.key,
        "shadows": [c.key for c in s.shadows],
        "available": sorted(s.all),
    }


@router.get(
    "/strategies/{strategy_id}/shadow",
    response_model=StrategyShadow,
    **TYPED,
    summary="A shadow candidate against the live one",
)
async def shadow(
    services: ServicesDep, strategy_id: Annotated[str, Path(min_length=1, max_length=200)]
) -> dict[str, Any]:
    return await run_in_threadpool(services.decisions.shadow_report, strategy_id)


@router.get(
    "/accounts/{account_id}/persona",
    response_model=Persona,
    **TYPED,
    summary="One account's whole safety picture",
)
async def account_persona(
    services: ServicesDep, account_id: Annotated[str, Path(min_length=1, max_length=200)]
) -> dict[str, Any]:
    return await run_in_threadpool(
        persona.persona, services.store, lambda: services.decisions, account_id
    )
