"""Analysts: read-only Cypher and the saved investigations (docs/analysts.md).

403 for anything that could write (refused by the guard before the database), 400 for Cypher the
engine rejects (its own message), 422 for bad parameters or a query past its time limit.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ringwatch.api.deps import ServicesDep
from ringwatch.api.responses import TYPED, CypherResult, Investigations
from ringwatch.services import analysts
from ringwatch.settings import Settings

router = APIRouter(prefix="/v1", tags=["analysts"])

MAX_QUERY_CHARS = 100_000
RowCap = Annotated[
    int | None,
    Field(ge=1, le=10_000, description="fewer rows than the service's cap (never more)"),
]


class CypherRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    params: dict[str, Any] = Field(default_factory=dict, description="$parameters")
    row_cap: RowCap = None


class InvestigationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    params: dict[str, Any] = Field(default_factory=dict)
    row_cap: RowCap = None


def _row_cap(settings: Settings, asked: int | None) -> int:
    return settings.analyst_row_cap if asked is None else min(asked, settings.analyst_row_cap)


@router.post(
    "/cypher", response_model=CypherResult, **TYPED,
    summary="Run read-only Cypher (timeout, row cap); writes are refused with 403",
)
async def run_cypher(services: ServicesDep, body: CypherRequest) -> dict[str, Any]:
    settings = services.settings
    result = await run_in_threadpool(
        analysts.run_query,
        services.store,
        body.query,
        body.params,
        timeout_s=settings.analyst_timeout_s,
        row_cap=_row_cap(settings, body.row_cap),
    )
    return asdict(result)


@router.get(
    "/investigations",
    response_model=Investigations,
    **TYPED,
    summary="The saved investigations and their parameters",
)
async def list_investigations() -> dict[str, Any]:
    return {"items": [inv.as_dict() for inv in analysts.catalogue().values()]}


@router.post(
    "/investigations/{name}",
    response_model=CypherResult,
    **TYPED,
    summary="Run a saved investigation by name",
)
async def run_investigation(
    services: ServicesDep,
    name: Annotated[str, Path(min_length=1, max_length=100)],
    body: InvestigationRequest | None = None,
) -> dict[str, Any]:
    settings = services.settings
    body = body or InvestigationRequest()
    result = await run_in_threadpool(
        analysts.run_investigation,
        services.store,
        name,
        body.params,
        timeout_s=settings.analyst_timeout_s,
        row_cap=_row_cap(settings, body.row_cap),
    )
    return {"investigation": name, **asdict(result)}
