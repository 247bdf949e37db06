"""Detection runs: when they ran, what they covered, and the verdict model each one used."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from ringwatch.api.deps import ServicesDep
from ringwatch.api.responses import TYPED, DetectionRun, DetectionRuns, DetectionShadow
from ringwatch.services import detection

router = APIRouter(prefix="/v1/detection", tags=["detection"])


@router.get(
    "/runs",
    response_model=DetectionRuns,
    **TYPED,
    summary="Detection runs, newest first, with their verdict model records",
)
async def list_runs(
    services: ServicesDep, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> dict[str, Any]:
    return await run_in_threadpool(detection.runs_page, services.store, limit)


@router.get(
    "/shadow",
    response_model=DetectionShadow,
    **TYPED,
    # A query, not a path, names the run, so the generic 404 of errors.document_errors misses it.
    responses={404: {"description": "no full run yet, no such run, or it ran no shadow candidate"}},
    summary="The shadow detection candidate against the live ring verdicts of a full run",
)
async def shadow(
    services: ServicesDep,
    run_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    limit: Annotated[int, Query(ge=0, le=1000)] = 100,
) -> dict[str, Any]:
    return await run_in_threadpool(detection.shadow_report, services.store, run_id, limit)


@router.get(
    "/runs/{run_id}",
    response_model=DetectionRun,
    **TYPED,
    summary="One detection run and its verdict model record",
)
async def get_run(
    services: ServicesDep, run_id: Annotated[str, Path(min_length=1, max_length=200)]
) -> dict[str, Any]:
    return await run_in_threadpool(detection.get_run, services.store, run_id)
