"""`ringwatch synth`: write a synthetic world (events.jsonl + truth.json)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ringwatch.worlds.profiles import PROFILES

MIN_ACCOUNTS = 100
MAX_ACCOUNTS = 50_000_000


def _check_profile(value: str) -> str:
    if value not in PROFILES:
        raise typer.BadParameter(f"unknown profile {value!r}; choose one of: {', '.join(PROFILES)}")
    return value


def synth(
    outdir: Path = typer.Argument(
        ...,
        help="Directory to write events.jsonl and truth.json into (created if missing).",
        file_okay=False,
    ),
    accounts: int = typer.Option(
        100_000,
        "--accounts",
        "-n",
        help="Number of accounts in the world.",
        min=MIN_ACCOUNTS,
        max=MAX_ACCOUNTS,
    ),
    seed: int = typer.Option(0, "--seed", "-s", help="Random seed; same seed, same bytes.", min=0),
    profile: str = typer.Option(
        "default",
        "--profile",
        "-p",
        callback=_check_profile,
        help="Parameter set: " + ", ".join(PROFILES) + " (see docs/worlds.md).",
    ),
    workers: int = typer.Option(
        0,
        "--workers",
        help="Rendering processes (0 = up to 2). Output does not depend on it.",
        min=0,
        max=64,
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Generate a synthetic world with planted fraud rings, repeat offenders and benign
    look-alike groups. Writes OUTDIR/events.jsonl (time-ordered events) and OUTDIR/truth.json."""
    if outdir.exists() and not outdir.is_dir():
        raise typer.BadParameter(f"{outdir} exists and is not a directory", param_hint="OUTDIR")
    console = Console(stderr=True, quiet=quiet)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=quiet,
    ) as bar:
        task = bar.add_task("planning", total=accounts)

        def progress(phase: str, done: int) -> None:
            label = {"render": "rendering", "merge": "merging by time"}.get(phase, phase)
            bar.update(task, completed=done, description=label)

        from ringwatch.worlds import generate  # numpy and the generator: only when run

        summary = generate(
            outdir, accounts, seed, profile, workers=workers or None, progress=progress
        )
    table = Table(title=f"world {outdir} (profile {profile}, seed {seed})", show_header=False)
    rows = [
        ("accounts", f"{summary.accounts:,}"),
        ("events", f"{summary.events:,} ({summary.events / summary.accounts:.1f} per account)"),
        ("account-identifier links", f"{summary.links:,}"),
        ("rings", f"{summary.rings:,} ({summary.ring_members:,} members)"),
        ("repeat offenders", f"{summary.repeat_offenders:,}"),
        ("benign shared groups", f"{summary.groups:,}"),
        ("events.jsonl", f"{summary.events_bytes / 1e6:,.1f} MB"),
        ("truth.json", f"{summary.truth_bytes / 1e6:,.1f} MB"),
        ("time", f"{summary.seconds:.1f} s"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("synth")(synth)
