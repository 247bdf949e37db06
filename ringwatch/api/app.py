"""The FastAPI application factory."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ringwatch import __version__
from ringwatch.api import (
    auth,
    cypher,
    decision_route,
    decisions,
    detection,
    errors,
    events,
    health,
    keys,
    reviews,
    ring_actions,
    rings,
    verdicts,
    webhooks,
)
from ringwatch.api.telemetry import Telemetry, quiet_decision_access_log
from ringwatch.console import routes as console
from ringwatch.errors import RingwatchError
from ringwatch.events import json_schema
from ringwatch.observability import time_gc_pauses
from ringwatch.services.context import Services
from ringwatch.services.ingest import BatchQueue
from ringwatch.settings import Settings, get_settings

_log = logging.getLogger(__name__)

GC_THRESHOLD = 10_000  # allocations between first-generation collections in a serving process


def create_app(
    settings: Settings | None = None,
    queue: BatchQueue | None = None,
    *,
    release_engine: bool = True,
    serving: bool = False,
) -> FastAPI:
    """`serving`: this process exists to serve the app (`serve_app`), so it may tune what is
    process-wide: the garbage collector."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services(settings, release_engine=release_engine)
        app.state.services = services
        _check_strategies(services)
        app.state.queue = queue if queue is not None else services.batch_queue
        if serving:
            # Everything built so far (modules, strategies, services) lives as long as the
            # process: out of the collector's reach, a full collection no longer walks it.
            gc.collect()
            gc.freeze()
        yield
        services.close()

    app = FastAPI(
        title="Ringwatch",
        version=__version__,
        description="Finds fraud rings, ban evaders and coordinated abuse in an identity graph.",
        lifespan=lifespan,
        # Every route, including those routers add later, checks its key and role (api/auth.py).
        dependencies=[auth.AUTHORIZE],
    )
    errors.install(app)
    app.add_middleware(Telemetry)
    quiet_decision_access_log()
    app.include_router(health.router)
    app.include_router(events.router)
    app.include_router(rings.router)
    app.include_router(detection.router)
    app.include_router(decisions.router)
    app.include_router(keys.router)
    app.include_router(cypher.router)
    app.include_router(verdicts.router)
    app.include_router(webhooks.router)
    app.include_router(ring_actions.router)
    app.include_router(reviews.router)
    console.install(app)
    decision_route.install(app)  # ahead of the routes above: the hot path (its docstring)

    base_openapi = app.openapi

    def openapi() -> dict[str, object]:
        if app.openapi_schema is None:
            schema = base_openapi()
            event_schema = json_schema(ref_template="#/components/schemas/{model}")
            event_schema.pop("$schema", None)
            defs = event_schema.pop("$defs", {})
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(defs)
            components["Event"] = event_schema
            auth.document_openapi(schema)
            errors.document_errors(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _check_strategies(services: Services) -> None:
    """Say at start-up, not at the first decision, that the strategies do not load.

    The API stays up (reviews, rings, health) and /readyz reports the problem until it is fixed.
    """
    try:
        strategies = services.strategies
    except RingwatchError as e:
        problems = "; ".join(f"{p.field}: {p.reason}" for p in e.problems)
        _log.error("strategies do not load: %s %s", e.message, problems)
        return
    _log.info(
        "strategies loaded: live %s, shadows %s",
        strategies.live.key,
        [s.key for s in strategies.shadows],
    )


def serve_app() -> FastAPI:
    """For `ringwatch serve --workers N`: the engine belongs to the serving command."""
    # Requests allocate many short-lived containers that reference counting frees anyway; at the
    # default first threshold (700) the cyclic collector took about 5 % of a serving process's
    # CPU (perf, docs/performance.md "Decisions"), walking in-flight requests' objects and
    # promoting them to older generations, for little garbage.
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    time_gc_pauses()
    return create_app(get_settings(), release_engine=False, serving=True)
