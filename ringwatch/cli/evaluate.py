"""`ringwatch evaluate`: score detection exports against a world's truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.table import Table


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def evaluate(
    truth: Path = typer.Option(
        ..., "--truth", help="truth.json written by `ringwatch synth`.", exists=True, dir_okay=False
    ),
    rings: Path = typer.Option(
        ..., "--rings", help="rings.jsonl export (docs/exports.md).", exists=True, dir_okay=False
    ),
    accounts: Path | None = typer.Option(
        None,
        "--accounts",
        help="accounts.jsonl with per-account scores (enables ROC AUC/AP).",
        exists=True,
        dir_okay=False,
    ),
    evaders: Path | None = typer.Option(
        None,
        "--evaders",
        help="evaders.jsonl with matched banned accounts (repeat offenders).",
        exists=True,
        dir_okay=False,
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Where to write the metrics JSON [default: metrics.json next to the rings file].",
        dir_okay=False,
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the JSON instead of a table."),
) -> None:
    """Score detection output against planted truth: ring recall and Jaccard, account
    precision/recall, false rings, repeat-offender recall, and ROC AUC / average precision."""
    # Imported here: the metrics pull in numpy and scikit-learn, which other commands skip.
    from ringwatch.quality import read_accounts, read_evaders, read_rings, read_truth
    from ringwatch.quality.readers import ExportError
    from ringwatch.quality.report import evaluate as run_evaluation

    try:
        report = run_evaluation(
            read_truth(truth),
            read_rings(rings),
            read_evaders(evaders) if evaders else None,
            read_accounts(accounts) if accounts else None,
        )
    except ExportError as e:
        raise typer.BadParameter(str(e)) from e
    target = out or rings.parent / "metrics.json"
    target.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    console = Console()
    if as_json:
        console.print_json(orjson.dumps(report).decode())
        return
    table = Table(title="detection quality", show_header=True)
    table.add_column("section")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for section, values in report.items():
        for key, value in values.items():
            if isinstance(value, dict):
                for sub, v in value.items():
                    table.add_row(section, f"{key}.{sub}", _fmt(v))
            else:
                table.add_row(section, key, _fmt(value))
    console.print(table)
    console.print(f"metrics written to {target}")


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
