"""`ringwatch serve`, `ringwatch worker`, `ringwatch beat`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from typing import Annotated

import typer

from ringwatch import logs
from ringwatch.cli.common import console, load_settings
from ringwatch.cli.keys import announce_bootstrap_key
from ringwatch.cli.lifecycle import die_with_parent
from ringwatch.settings import Settings


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8080,
    worker: Annotated[
        bool, typer.Option(help="Also run a Celery worker (with the beat schedule) beside the API.")
    ] = True,
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="API processes. One Python process uses one core; give busy APIs more."
        ),
    ] = 1,
) -> None:
    """Run the API (and, by default, a worker). With nothing configured, on the embedded engine."""
    import uvicorn

    from ringwatch.graph.factory import redis_url, release  # heavy: see `common.services`

    settings = load_settings()
    metrics_dir(settings, "serve")
    logs.configure()
    graph = settings.neo4j_uri or f"embedded {settings.data_dir}"
    console.print(f"redis: {redis_url(settings)}  graph: {graph}")
    announce_bootstrap_key(settings)
    child = None
    if worker:
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "ringwatch.workers.app",
                "worker",
                "-B",
                "--loglevel=INFO",
                "--concurrency=1",
                "-s",
                str(settings.data_dir / "celerybeat-schedule"),
            ],
            env=os.environ.copy(),
            # A serve killed outright must not leave its worker running against a dead engine.
            preexec_fn=die_with_parent(),
        )
    try:
        # An importable factory (`api.app.serve_app`, the settings of this environment), so this
        # command needs no import of the API: one process, or several that each build their own
        # services and share the engine (and the embedded engine's socket) this process started.
        # log_config=None: keep the JSON logging configured above.
        uvicorn.run(
            "ringwatch.api.app:serve_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
        )
    finally:
        try:
            if child is not None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
        finally:
            release(settings)


def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 2,
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO",
    metrics_port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Serve this worker's Prometheus metrics on this port."),
    ] = None,
) -> None:
    """Run a Celery worker (production: run several, on several machines)."""
    from ringwatch.graph.factory import redis_url

    settings = load_settings()
    if metrics_port is not None:
        metrics_dir(settings, f"worker-{os.getpid()}")
        from prometheus_client import CollectorRegistry, multiprocess, start_http_server

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        start_http_server(metrics_port, registry=registry)
    redis_url(settings)  # starts the embedded engine when nothing is configured
    from ringwatch.workers.app import make_celery

    app = make_celery(settings)
    app.worker_main(["worker", f"--concurrency={concurrency}", f"--loglevel={loglevel}"])


def beat(loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO") -> None:
    """Run the Celery beat scheduler (exactly one per deployment)."""
    from ringwatch.graph.factory import redis_url

    settings = load_settings()
    redis_url(settings)  # starts the embedded engine when nothing is configured
    from ringwatch.workers.app import make_celery

    make_celery(settings).start(["beat", f"--loglevel={loglevel}"])


def metrics_dir(settings: Settings, name: str) -> None:
    """Turn on Prometheus multiprocess mode (unless the operator set a directory already).

    The pool's children and uvicorn's workers each write their own files there and a scrape of
    any one process sums them. It must be set before prometheus_client is imported, and it starts
    empty: files of a previous run would be counted again.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    directory = settings.data_dir / "metrics" / name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("worker")(worker)
    app.command("beat")(beat)
