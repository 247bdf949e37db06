"""Liveness and readiness."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from ringwatch.api.deps import ServicesDep
from ringwatch.api.responses import TYPED, Alive, Readiness
from ringwatch.errors import RingwatchError
from ringwatch.observability import BATCHES_PENDING, HEALTH, exposition

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Alive, **TYPED)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, **TYPED)
def readyz(services: ServicesDep) -> JSONResponse:
    checks: dict[str, str] = {}
    probes: tuple[tuple[str, Callable[[], object]], ...] = (
        ("store", services.store.ping),
        ("redis", services.intake.ping),
        # Every decision fails without them; loaded once at start-up, re-tried here until they do.
        ("strategies", lambda: services.strategies),
    )
    for name, probe in probes:
        try:
            probe()
            checks[name] = "ok"
            if name in ("store", "redis"):
                HEALTH.labels(name).set(1)
        except RingwatchError as e:
            checks[name] = e.message
            if name in ("store", "redis"):
                HEALTH.labels(name).set(0)
        except Exception as e:  # a readiness probe reports, it never raises
            checks[name] = f"{type(e).__name__}: {e}"
            if name in ("store", "redis"):
                HEALTH.labels(name).set(0)
    ready = all(v == "ok" for v in checks.values())
    body = {
        "status": "ready" if ready else "unavailable",
        "checks": checks,
        "engine": services.store.engine if ready else None,
        "pending_batches": services.intake.pending_count() if ready else None,
    }
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics of this process (all processes in multiprocess mode)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
def metrics(services: ServicesDep) -> Response:
    # Health and the pending backlog are measured at scrape time: a gauge set by the last request
    # would go stale on an idle API.
    for name, probe in (("store", services.store.ping), ("redis", services.intake.ping)):
        try:
            probe()
            HEALTH.labels(name).set(1)
        except Exception:  # a scrape reports the dependency down, it never fails
            HEALTH.labels(name).set(0)
    with contextlib.suppress(Exception):
        BATCHES_PENDING.set(services.intake.pending_count())
    body, content_type = exposition()
    return Response(body, media_type=content_type)
