"""A served Ringwatch (uvicorn in a thread) on a small generated world in the embedded engine,
for browser tests and bench/console.py."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from pydantic import SecretStr

from ringwatch.api.app import create_app
from ringwatch.services.detection import DetectionService
from ringwatch.services.keys import KeyService, Role
from ringwatch.settings import Settings
from ringwatch.worlds import generate

TEST_KEY = "ringwatch-console-tests-key-0123456789abcdef"


class InlineQueue:
    def __init__(self) -> None:
        self.app: object = None

    def enqueue(self, batch_id: str) -> None:
        self.app.state.services.ingest.apply(batch_id)  # type: ignore[attr-defined]


@dataclass
class Served:
    url: str
    app: object
    world: Path

    def key(self, role: Role) -> str:
        services = self.app.state.services  # type: ignore[attr-defined]
        return (
            KeyService(services.redis, services.settings)
            .create(role, f"console tests ({role})", None, created_by="tests")
            .token
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served_world(tmp: Path, accounts: int, seed: int = 7, env: str = "test") -> Iterator[Served]:
    settings = Settings(env=env, data_dir=tmp / "engine", hash_key=SecretStr(TEST_KEY))  # type: ignore[arg-type]
    queue = InlineQueue()
    app = create_app(settings, queue)
    queue.app = app
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        services = app.state.services
        world = tmp / "world"
        if accounts:
            generate(world, accounts, seed, workers=1)
            services.ingest.ingest_file(world / "events.jsonl")
            DetectionService(services.store).run_full()
        yield Served(f"http://localhost:{port}", app, world)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
