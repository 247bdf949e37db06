"""Admin: API keys. The plaintext key is in the create response and nowhere else, ever."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ringwatch.api.auth import PrincipalDep
from ringwatch.api.deps import ServicesDep
from ringwatch.api.responses import TYPED, KeyCreated, KeyList
from ringwatch.services.keys import Role

router = APIRouter(prefix="/v1", tags=["keys"])

KeyId = Annotated[str, Path(min_length=1, max_length=64)]


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    name: str = Field(default="", max_length=100, description="who or what holds the key")
    rate_limit: int | None = Field(
        default=None, ge=1, description="requests per second; default: the role's limit"
    )


@router.post(
    "/keys",
    response_model=KeyCreated,
    **TYPED,
    status_code=201,
    summary="Create an API key (the key is shown only here)",
)
async def create_key(
    services: ServicesDep, principal: PrincipalDep, body: KeyCreate
) -> dict[str, Any]:
    keys = services.keys
    new = await run_in_threadpool(
        lambda: keys.create(body.role, body.name, body.rate_limit, created_by=principal.key_id)
    )
    return {**new.info.as_dict(), "key": new.token}


@router.get(
    "/keys",
    response_model=KeyList,
    **TYPED,
    summary="List API keys (ids, roles, names; never secrets)",
)
async def list_keys(services: ServicesDep) -> dict[str, Any]:
    keys = services.keys
    return {"items": [k.as_dict() for k in await run_in_threadpool(keys.list)]}


@router.delete(
    "/keys/{key_id}", status_code=204, summary="Revoke an API key (takes effect at once)"
)
async def revoke_key(services: ServicesDep, key_id: KeyId) -> Response:
    keys = services.keys
    await run_in_threadpool(keys.revoke, key_id)
    return Response(status_code=204)
