"""Automated enforcement: the verdict feed, a replayable log of ring and account verdict changes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from ringwatch.api.deps import ServicesDep
from ringwatch.api.responses import TYPED, VerdictPage
from ringwatch.services import feed

router = APIRouter(prefix="/v1", tags=["verdicts"])


@router.get(
    "/verdicts",
    response_model=VerdictPage,
    **TYPED,
    summary="Verdict changes in order, after an opaque cursor",
)
async def list_verdicts(
    services: ServicesDep,
    after: Annotated[
        str,
        Query(
            max_length=feed.MAX_CURSOR_LENGTH,
            description="next_cursor of the previous page; empty for the start of the log",
        ),
    ] = "",
    limit: Annotated[int, Query(ge=1, le=feed.MAX_LIMIT)] = feed.DEFAULT_LIMIT,
) -> dict[str, Any]:
    return await run_in_threadpool(feed.verdicts_page, services.store, after, limit)
