"""`ringwatch detect` and `ringwatch export`."""

from __future__ import annotations

import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ringwatch.cli.common import console, services
from ringwatch.vocabulary import Verdict


def detect(
    full: Annotated[
        bool, typer.Option("--full", help="Recompute every account (the default).")
    ] = True,
    accounts: Annotated[
        list[str] | None,
        typer.Option(
            "--account", help="Recompute only the components of these accounts (repeatable)."
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Seed for the community algorithm (same seed, same rings).")
    ] = 0,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Also write rings.jsonl, evaders.jsonl and accounts.jsonl into this folder."
        ),
    ] = None,
) -> None:
    """Find rings and ban evaders in the graph and write them back (rings, risk, evader links)."""
    from ringwatch.cli import STARTED

    t_imports = time.perf_counter() - STARTED
    wall = time.perf_counter()
    with (
        services(detection_seed=seed) as svc,
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed:,} accounts"),
            TimeElapsedColumn(),
            console=console,
        ) as progress,
    ):
        task = progress.add_task("snapshot", total=None)

        def advance(stage: str, n: int) -> None:
            progress.update(task, description=stage, advance=n)

        # Opening the store starts the embedded engine if none is up, which reads the whole
        # graph back: timed on its own so the table accounts for every second of the run.
        progress.update(task, description="engine start")
        clock = time.perf_counter()
        svc.store  # noqa: B018  (opens it, starting the engine if none is up)
        t_engine = time.perf_counter() - clock
        progress.update(task, description="snapshot")
        service = svc.detection
        if accounts:
            ran = service.run_incremental(accounts)
            if ran is None:
                console.print("nothing to do")
                return
            result, summary = ran
        else:
            result, summary = service.run_full(progress=advance)
        progress.update(task, description="done")
    if out:
        out.mkdir(parents=True, exist_ok=True)
        _write_jsonl(out / "rings.jsonl", result.ring_records())
        _write_jsonl(out / "evaders.jsonl", result.evader_records())
        _write_jsonl(out / "accounts.jsonl", result.account_records())
        _write_jsonl(out / "engagement_rings.jsonl", list(result.engagement_rings))
    table = Table(title=f"detection run {summary.run_id}", show_header=False)
    table.add_row(
        "accounts", f"{summary.accounts:,}" + ("" if summary.complete else " (scope capped)")
    )
    if summary.kind == "incremental" and summary.place_hops is not None:
        table.add_row("shared places crossed", str(summary.place_hops))
    if summary.deferred:
        table.add_row(
            "accounts left for another run",
            f"{len(summary.deferred):,} (the scope with them passed its limit; "
            "run again with them)",
        )
    for verdict in Verdict:
        table.add_row(f"rings: {verdict}", f"{summary.rings.get(verdict, 0):,}")
    table.add_row("accounts in rings", f"{summary.ring_members:,}")
    table.add_row("ban evaders matched", f"{summary.evaders:,}")
    stages = {
        "imports": t_imports,
        "engine start": t_engine,
        **{
            stage.replace("_", " "): summary.seconds[stage]
            for stage in ("snapshot", "previous_rings", "detect", "prepare_write", "write_back")
            if stage in summary.seconds
        },
        # What is left of the wall time: settings, closing (an engine this run started is
        # stopped after compacting its log), the exports.
        "other (open, close, exports)": 0.0,
    }
    total = time.perf_counter() - wall + t_imports
    stages["other (open, close, exports)"] = max(
        0.0, total - sum(v for k, v in stages.items() if not k.startswith("other"))
    )
    for stage, seconds in stages.items():
        table.add_row(f"seconds: {stage}", f"{seconds:.1f}")
    table.add_row("seconds: total", f"{total:.1f}")
    for key, value in verdict_model_rows(summary.verdict_model):
        table.add_row(key, value)
    console.print(table)
    if out:
        console.print(f"exports written to {out}/")


def verdict_model_rows(record: dict[str, Any]) -> list[tuple[str, str]]:
    """The verdict model's record as table rows: which model, why, and the CV figures."""
    if not record:
        return []
    rows = [("verdict model", f"{record.get('model')} ({record.get('reason', '')})")]
    counts = record.get("rings")
    if counts:
        rows.append(
            (
                "labelled rings",
                f"{counts['positive']:,} positive, {counts['negative']:,} negative, "
                f"{counts['unlabelled']:,} unlabelled",
            )
        )
    cv = record.get("cv") or {}
    for key in (
        "roc_auc",
        "roc_auc_pu",
        "roc_auc_pu_corrected",
        "precision_at_fraud",
        "precision_at_suspicious",
        "label_frequency",
    ):
        if cv.get(key) is not None:
            rows.append((f"cv {key}", f"{cv[key]:.4f}"))
    fitted = record.get("fitted")
    if fitted:
        rows.append(
            (
                "thresholds on P(fraud)",
                f"fraud >= {fitted['fraud_threshold']:.3f}, "
                f"suspicious >= {fitted['suspicious_threshold']:.3f}",
            )
        )
    return rows


class ExportKind(StrEnum):
    RINGS = "rings"
    ACCOUNTS = "accounts"
    EVADERS = "evaders"


def export(
    kind: Annotated[
        ExportKind, typer.Argument(help="What to export (formats in docs/exports.md).")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Output file (JSON Lines); '-' for stdout.")
    ] = Path("-"),
) -> None:
    """Export the latest stored detection results, in the formats of docs/exports.md."""
    with services() as svc:
        rows = list(_stored(svc.store, kind))
    if str(out) == "-":
        for row in rows:
            sys.stdout.write(orjson.dumps(row).decode() + "\n")
    else:
        _write_jsonl(out, rows)
        console.print(f"{len(rows):,} {kind.value} written to {out}")


def _stored(store: Any, kind: ExportKind) -> list[dict[str, Any]]:
    from ringwatch.services.results import export_accounts, export_evaders, export_rings

    if kind is ExportKind.RINGS:
        return export_rings(store)
    if kind is ExportKind.EVADERS:
        return export_evaders(store)
    return export_accounts(store)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "wb") as handle:
        for row in rows:
            handle.write(orjson.dumps(row, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n")


def register(app: typer.Typer) -> None:
    app.command("detect")(detect)
    app.command("export")(export)
