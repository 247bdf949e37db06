"""Automated enforcement: coordinated actions on a whole ring (or a chosen part of it)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ringwatch.api.auth import PrincipalDep
from ringwatch.api.deps import ServicesDep
from ringwatch.api.responses import TYPED, RingActionResult
from ringwatch.events import EnforcementAction
from ringwatch.services.audit import Actor
from ringwatch.services.ring_actions import MAX_REASON, RingAction

router = APIRouter(prefix="/v1", tags=["rings"])

IdPath = Annotated[str, Path(min_length=1, max_length=200)]
MemberId = Annotated[str, Field(min_length=1, max_length=200)]


class RingActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: EnforcementAction
    reason: str = Field(min_length=1, max_length=MAX_REASON)
    members: list[MemberId] | None = Field(
        default=None, max_length=10_000, description="a subset of the members; default all"
    )
    exclude_banned: bool = False


@router.post(
    "/rings/{ring_id}/actions", response_model=RingActionResult, **TYPED,
    summary="Apply an enforcement to a ring's members as one audited, idempotent operation",
)
async def act_on_ring(
    services: ServicesDep,
    principal: PrincipalDep,
    ring_id: IdPath,
    body: RingActionBody,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=200,
            description="retries with the same key (and body) apply the action once",
        ),
    ] = None,
) -> dict[str, Any]:
    request = RingAction(
        action=body.action.value,
        reason=body.reason,
        members=tuple(body.members) if body.members is not None else None,
        exclude_banned=body.exclude_banned,
    )
    service = services.ring_actions
    actor = Actor(principal.key_id, principal.name)
    return await run_in_threadpool(service.apply, ring_id, request, actor, idempotency_key)
