"""`ringwatch ingest FILE...`: write events straight to the graph, resumably."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ringwatch.cli.common import READABLE_FILE, console, print_rejections, services
from ringwatch.errors import Problem


def _count_lines(path: Path) -> int | None:
    if path.suffix == ".gz":
        return None
    with open(path, "rb") as handle:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    return lines - 1 if path.name.endswith(".csv") else lines  # the header is not an event


def ingest(
    files: Annotated[
        list[Path],
        typer.Argument(help="JSON Lines (.jsonl, .jsonl.gz) or CSV files.", **READABLE_FILE),
    ],
    rejects: Annotated[
        Path, typer.Option(help="Where rejected events go, one JSON object per line.")
    ] = Path("rejects.jsonl"),
    writers: Annotated[
        int,
        typer.Option(
            min=1,
            max=16,
            help="Batches written concurrently. 2 lets Neo4j use two cores for one load; "
            "the embedded engine applies writes one at a time, so it gains little.",
        ),
    ] = 1,
    normalisers: Annotated[
        int,
        typer.Option(
            min=0,
            max=64,
            help="Processes that decode, validate and pseudonymise batches ahead while this one "
            "writes (0: all in this process). Default: one per core beyond the first.",
        ),
    ] = max(1, (os.cpu_count() or 2) - 1),
    group: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="When every writer is busy, up to this many batches wait and then go as one "
            "write (each keeps its own id and marker; fewer rows for the engine). 1: always "
            "one batch per write. Default: 5 on the embedded engine, 1 on Neo4j.",
        ),
    ] = None,
) -> None:
    """Validate, pseudonymise and write events to the graph in batches.

    Safe to interrupt and run again: batches already written are skipped, and replayed event
    ids are counted as duplicates, never applied twice.
    """
    from ringwatch.services.ingest import IngestReport, problem_json  # heavy: `common.services`

    total = IngestReport()
    with (
        services() as svc,
        open(rejects, "wb") as rejects_out,
        Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=console,
        ) as progress,
    ):

        def reject(path: Path, problem: Problem) -> None:
            rejects_out.write(problem_json(path, problem) + b"\n")

        # Measured (docs/performance.md, "Ingest end to end"): grouped writes cut the embedded
        # engine's CPU by a sixth; on Neo4j the larger transactions cost the server more CPU,
        # with one writer as with two, and were slower than single batches.
        per_write = group or (5 if svc.settings.embedded else 1)
        for path in files:
            task = progress.add_task(path.name, total=_count_lines(path), rate="")

            def advance(n: int, task: TaskID = task) -> None:
                progress.advance(task, n)
                elapsed = progress.tasks[task].elapsed or 0
                if elapsed:
                    done = progress.tasks[task].completed
                    progress.update(task, rate=f"{done / elapsed:,.0f} events/s")

            total.merge(
                svc.ingest.ingest_file(
                    path,
                    rejects=reject,
                    progress=advance,
                    writers=writers,
                    normalisers=normalisers,
                    group=per_write,
                )
            )

    table = Table(title="ingest summary", show_header=False)
    table.add_row("accepted", f"{total.accepted:,}")
    table.add_row("duplicates", f"{total.duplicates:,}")
    table.add_row("rejected", f"{len(total.rejected):,}")
    table.add_row("batches written", f"{len(total.batches):,}")
    table.add_row("batches already written (resumed)", f"{total.skipped_batches:,}")
    console.print(table)
    print_rejections(total.rejected, rejects)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
