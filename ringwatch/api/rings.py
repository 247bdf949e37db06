"""Investigators: rings, their members and evidence; accounts and why they are flagged."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from ringwatch.api.deps import ServicesDep
from ringwatch.api.responses import TYPED, AccountView, RingDetail, RingPage
from ringwatch.graph.store import RingFilter
from ringwatch.services import results
from ringwatch.vocabulary import Verdict

router = APIRouter(prefix="/v1", tags=["rings"])

IdPath = Annotated[str, Path(min_length=1, max_length=200)]


@router.get(
    "/rings",
    response_model=RingPage,
    **TYPED,
    summary="List active rings (filter by verdict, size, update time)",
)
async def list_rings(
    services: ServicesDep,
    verdict: Verdict | None = None,
    min_size: Annotated[int, Query(ge=0)] = 0,
    max_size: Annotated[int | None, Query(ge=0)] = None,
    updated_since: Annotated[dt.datetime | None, Query(description="RFC 3339")] = None,
    cursor: Annotated[
        str, Query(max_length=200, description="next_cursor of the previous page")
    ] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    since = None
    if updated_since is not None:
        if updated_since.tzinfo is None:
            updated_since = updated_since.replace(tzinfo=dt.UTC)
        since = int(updated_since.timestamp() * 1000)
    filters = RingFilter(
        verdict=verdict.value if verdict else None,
        min_size=min_size,
        max_size=max_size,
        since=since,
        after=cursor,
        limit=limit,
    )
    return await run_in_threadpool(results.rings_page, services.store, filters)


@router.get(
    "/rings/{ring_id}",
    response_model=RingDetail,
    **TYPED,
    summary="One ring: members, evidence, history",
)
async def get_ring(services: ServicesDep, ring_id: IdPath) -> dict[str, Any]:
    return await run_in_threadpool(results.ring_view, services.store, ring_id)


@router.get(
    "/accounts/{account_id}",
    response_model=AccountView,
    **TYPED,
    summary="One account: ring, scores, evader matches, identifiers",
)
async def get_account(services: ServicesDep, account_id: IdPath) -> dict[str, Any]:
    return await run_in_threadpool(results.account_view, services.store, account_id)
