"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ringwatch.api.deps import ServicesDep
from ringwatch.errors import RingwatchError

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(services: ServicesDep) -> JSONResponse:
    checks: dict[str, str] = {}
    for name, probe in (("store", services.store.ping), ("redis", services.intake.ping)):
        try:
            probe()
            checks[name] = "ok"
        except RingwatchError as e:
            checks[name] = e.message
        except Exception as e:  # a readiness probe reports, it never raises
            checks[name] = f"{type(e).__name__}: {e}"
    ready = all(v == "ok" for v in checks.values())
    body = {
        "status": "ready" if ready else "unavailable",
        "checks": checks,
        "engine": services.store.engine if ready else None,
        "pending_batches": services.intake.pending_count() if ready else None,
    }
    return JSONResponse(body, status_code=200 if ready else 503)
