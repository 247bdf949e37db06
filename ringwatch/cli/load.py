"""`ringwatch load FILE...`: a first load into an empty store with the engine's bulk tool."""

from __future__ import annotations

import os
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from ringwatch.cli.common import (
    READABLE_FILE,
    console,
    load_settings,
    print_rejections,
    services,
)
from ringwatch.cli.ingest import _count_lines
from ringwatch.errors import Problem


class Engine(StrEnum):
    NEO4J = "neo4j"
    EMBEDDED = "embedded"


def load(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="JSON Lines (.jsonl, .jsonl.gz) or CSV files, loaded in the order given.",
            **READABLE_FILE,
        ),
    ],
    engine: Annotated[
        Engine | None,
        typer.Option(
            help="Which store to load: the configured one by default (Neo4j when "
            "RINGWATCH_NEO4J_URI is set, else the embedded engine under RINGWATCH_DATA_DIR).",
            case_sensitive=False,
        ),
    ] = None,
    rejects: Annotated[
        Path, typer.Option(help="Where rejected events go, one JSON object per line.")
    ] = Path("rejects.jsonl"),
    normalisers: Annotated[
        int,
        typer.Option(
            min=0,
            max=64,
            help="Processes that decode, validate, pseudonymise and fold chunks while this one "
            "reads and claims them (0: all in this process). Default: one per core.",
        ),
    ] = max(1, os.cpu_count() or 1),
) -> None:
    """Build an EMPTY store from event files with the engine's own bulk tool: many times faster
    than `ingest` for a first load of a long history.

    Events are validated and pseudonymised exactly as `ringwatch ingest` does, and their ids
    recorded for deduplication, so the graph is the one ingest would build, ingesting the same
    files later adds nothing, and `ringwatch ingest` of new events carries on from it.

    Neo4j: the DBMS is STOPPED for the import (neo4j-admin database import full) and started
    again, so run this on the database's host with RINGWATCH_NEO4J_ADMIN, RINGWATCH_NEO4J_STOP
    and RINGWATCH_NEO4J_START set (defaults: neo4j-admin, neo4j stop, neo4j start; the test
    server: bash scripts/neo4j.sh admin|stop|start). Embedded: GRAPH.BULK; nothing else may write
    to the engine meanwhile. A store that already holds nodes is refused.
    """
    # Imported here: heavy (see `common.services`), and a load's worker processes, each a fresh
    # interpreter that imports the `ringwatch` script again, need none of it.
    from ringwatch.graph.bulk.targets import open_target
    from ringwatch.services.bulk_load import BulkLoadService
    from ringwatch.services.ingest import problem_json

    settings = load_settings()
    if engine is Engine.NEO4J and not settings.neo4j_uri:
        console.print("[red]error:[/red] --engine neo4j needs RINGWATCH_NEO4J_URI")
        raise typer.Exit(2)
    if engine is Engine.EMBEDDED and settings.neo4j_uri:
        settings = settings.model_copy(update={"neo4j_uri": None})
    total = sum(_count_lines(path) or 0 for path in files) or None
    with (
        services(settings) as svc,
        open(rejects, "wb") as rejects_out,
        Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=console,
        ) as progress,
    ):
        task = progress.add_task("validate and claim", total=total, rate="")

        def advance(n: int) -> None:
            progress.advance(task, n)
            elapsed = progress.tasks[task].elapsed or 0
            if elapsed:
                done = progress.tasks[task].completed
                progress.update(task, rate=f"{done / elapsed:,.0f} events/s")

        def stage(name: str) -> None:
            progress.update(task, description=name)

        def reject(path: Path, problem: Problem) -> None:
            rejects_out.write(problem_json(path, problem) + b"\n")

        service = BulkLoadService(svc.store, svc.ingest, open_target(settings))
        report = service.load(
            files, rejects=reject, progress=advance, stage=stage, normalisers=normalisers
        )
        stage("done")
        closing = time.perf_counter()
    # Closing stops an embedded engine this command started, after the dump the load started
    # (`FalkorDBTarget`) is written: part of the load's time, so it is in the table.
    report.seconds["close"] = time.perf_counter() - closing

    table = Table(title=f"load summary ({service.store.engine})", show_header=False)
    table.add_row("accepted", f"{report.accepted:,}")
    table.add_row("duplicates", f"{report.duplicates:,}")
    table.add_row("rejected", f"{len(report.rejected):,}")
    table.add_row("batches recorded", f"{len(report.batches):,}")
    table.add_row("nodes", f"{report.nodes:,}")
    table.add_row("edges", f"{report.edges:,}")
    for name, seconds in report.seconds.items():
        table.add_row(f"{name} s", f"{seconds:,.1f}")
    table.add_row("total s", f"{sum(report.seconds.values()):,.1f}")
    console.print(table)
    print_rejections(report.rejected, rejects)


def register(app: typer.Typer) -> None:
    app.command("load")(load)
