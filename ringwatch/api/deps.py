"""Dependencies injected into routers; tests override `get_services` / `get_queue`.

They are `async def` although they only read `app.state`: FastAPI runs a plain `def` dependency
in its thread pool, one hop per dependency per request, which cost a decision two of its four
hops (docs/performance.md, "Decisions"). A dependency that blocks must stay sync.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ringwatch.services.context import Services
from ringwatch.services.ingest import BatchQueue
from ringwatch.settings import Settings


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.services.settings
    return settings


async def get_queue(request: Request) -> BatchQueue:
    queue: BatchQueue = request.app.state.queue
    return queue


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
QueueDep = Annotated[BatchQueue, Depends(get_queue)]
