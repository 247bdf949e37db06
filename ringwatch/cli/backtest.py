"""`ringwatch backtest` and `ringwatch strategy check`: try strategies offline."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ringwatch.cli.common import READABLE_FILE, console
from ringwatch.errors import Invalid
from ringwatch.scoring.actions import ACTIONS

strategy_app = typer.Typer(help="Validate and inspect strategy files.", no_args_is_help=True)



def _count_lines(path: Path) -> int | None:
    if path.suffix == ".gz":
        return None
    with open(path, "rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return f"{value:,}"


def _print_problems(problems: list[Any]) -> None:
    for p in problems:
        console.print(f"[red]{p.field}[/red]: {p.reason}", highlight=False, soft_wrap=True)


def backtest(
    strategy: Annotated[
        Path, typer.Option("--strategy", help="Strategy YAML file.", **READABLE_FILE)
    ],
    events: Annotated[Path, typer.Option(
        "--events", help="Event history: JSON Lines (.jsonl, .jsonl.gz) or CSV, in time order.",
        **READABLE_FILE)],
    truth: Annotated[Path | None, typer.Option(
        "--truth", help="truth.json of a synthetic world: its labels are the ground truth. "
        "Without it, accounts banned at some point in the history are the positives.",
        **READABLE_FILE)] = None,
    rings: Annotated[Path | None, typer.Option(
        "--rings", help="rings.jsonl from detection (docs/exports.md) for the ring features. "
        "If detection ran over the whole history this leaks the future.", **READABLE_FILE)] = None,
    evaders: Annotated[Path | None, typer.Option(
        "--evaders", help="evaders.jsonl from detection, for the evader features.",
        **READABLE_FILE)] = None,
    accounts: Annotated[Path | None, typer.Option(
        "--accounts", help="accounts.jsonl from detection, for sybil_score and the "
        "engagement-ring features.", **READABLE_FILE)] = None,
    datacenter: Annotated[Path | None, typer.Option(
        "--datacenter-ranges", help="File of datacenter/proxy CIDR ranges, one per line; "
        "without it datacenter_ip is null and rules on it never fire.", **READABLE_FILE)] = None,
    detect_every: Annotated[str | None, typer.Option(
        "--detect-every", help="Run detection every DURATION (1d, 6h, 30m) of simulated time "
        "over the graph as it stood then, so decisions see the rings and evader matches they "
        "would have seen. Excludes --rings/--evaders.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Detection seed (with --detect-every).")
                    ] = 0,
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Where to write the JSON report.", dir_okay=False)
    ] = Path("backtest.json"),
) -> None:
    """Replay EVENTS in time order through STRATEGY and report, per final action and per
    rule, volume, precision and recall against labels.

    Each signup, login, payment and engage (content) event gets a decision from the features
    as of its time; an account's outcome is the strictest action it ever got.
    """
    # Imported here, not at the top: detection and features pull in numpy, scipy and
    # scikit-learn, which every other command would pay for at start-up.
    from ringwatch.detectors.pipeline import DetectParams
    from ringwatch.features.detections import Detections
    from ringwatch.features.replay import ReplayState
    from ringwatch.features.signals import DatacenterRanges
    from ringwatch.quality.readers import ExportError, read_truth
    from ringwatch.scoring.backtest import Backtest, records_from_file
    from ringwatch.scoring.loader import load_strategy
    from ringwatch.scoring.replay_detection import DetectionReplay, parse_duration

    try:
        loaded = load_strategy(strategy)
        labels = read_truth(truth) if truth else None
        detections = (
            Detections.from_files(rings, evaders, accounts)
            if rings or evaders or accounts
            else None
        )
        ranges = DatacenterRanges.from_file(datacenter) if datacenter else None
        replay = None
        if detect_every is not None:
            if detections is not None:
                raise ValueError("--detect-every replaces --rings/--evaders; give one or the other")
            replay = DetectionReplay(every=parse_duration(detect_every), seed=seed,
                                     params=DetectParams(min_age=loaded.min_age))
    except Invalid as e:
        _print_problems(e.problems)
        raise typer.Exit(1) from e
    except (ExportError, ValueError) as e:
        raise typer.BadParameter(str(e)) from e
    if detections is not None:
        console.print("[yellow]note:[/yellow] detection results are joined as of the end of "
                      "the history; if detection saw the whole history, results are an upper "
                      "bound (the strategy sees the future).")
    run = Backtest(loaded, ReplayState(detections=detections, datacenter=ranges,
                                       min_age=loaded.min_age), detection=replay)
    rejected: Counter[str] = Counter()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console) as progress:
        task = progress.add_task(events.name, total=_count_lines(events))
        for rec in records_from_file(events, rejected=rejected):
            run.feed(rec)
            if run.events % 5000 == 0:
                progress.update(task, completed=run.events + sum(rejected.values()))
        progress.update(task, completed=run.events + sum(rejected.values()))
    report = run.report(labels)
    report["rejected_events"] = dict(rejected)
    out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    _print_report(report)
    console.print(f"report written to {out}")


def _print_report(report: dict[str, Any]) -> None:
    stdout = Console()
    head = Table(title=f"backtest of {report['strategy']}", show_header=False)
    for key in ("labels", "events", "decisions", "accounts", "positives", "negatives",
                "negatives_allowed", "positives_review_or_block", "detections_leak_future"):
        head.add_row(key, _fmt(report[key]) if not isinstance(report[key], str | bool)
                     else str(report[key]))
    stdout.print(head)
    table = Table(title="accounts by final action (≥: the action or a stricter one)")
    for col in ("action", "accounts", "pos", "prec", "recall", "≥ acc", "≥ prec", "≥ recall"):
        table.add_column(col, justify="left" if col == "action" else "right")
    for action in ACTIONS:
        row = report["by_action"][action]
        cum = report["at_least"].get(action, {})
        table.add_row(action, *(_fmt(row[k]) for k in ("accounts", "positives", "precision",
                                                      "recall")),
                      *(_fmt(cum.get(k)) for k in ("accounts", "precision", "recall")))
    stdout.print(table)
    rules = Table(title="rules (accounts the rule fired on at least once)")
    for col in ("rule", "decisions", "accounts", "prec", "recall", "errors"):
        rules.add_column(col, justify="left" if col == "rule" else "right")
    for rule, row in report["by_rule"].items():
        rules.add_row(rule, *(_fmt(row[k]) for k in ("decisions", "accounts", "precision",
                                                      "recall", "errors")))
    stdout.print(rules)
    labels = Table(title="final action by label")
    labels.add_column("label")
    for col in ("accounts", *ACTIONS, "review|block"):
        labels.add_column(col, justify="right")
    for label, row in report["by_label"].items():
        labels.add_row(label, *(_fmt(row[k]) for k in ("accounts", *ACTIONS, "review_or_block")))
    stdout.print(labels)
    if report.get("detection_replay"):
        replay = report["detection_replay"]
        stdout.print(f"detection replayed {replay['runs']} times, every "
                     f"{replay['every_seconds']:,} s of simulated time ({replay['seconds']} s)")
    if report.get("detection_rules"):
        det = Table(title="ring and evader rules")
        for col in ("rule", "kind", "decisions", "accounts", "prec", "recall", "recall of kind"):
            det.add_column(col, justify="left" if col in ("rule", "kind") else "right")
        for rule, row in report["detection_rules"].items():
            of_kind = row.get(f"recall_of_{row['kind']}_accounts")
            det.add_row(rule, row["kind"], *(_fmt(row[k]) for k in ("decisions", "accounts",
                                                                  "precision", "recall")),
                        _fmt(of_kind))
        stdout.print(det)
    delay = report.get("ring_delay")
    if delay:
        stdout.print(f"planted rings: {delay['rings']}, with a ring-rule decision: "
                     f"{delay['rings_with_flagged_decision']}; hours from first member to first "
                     f"flagged decision p50 {_fmt(delay['delay_hours_p50'])}, p90 "
                     f"{_fmt(delay['delay_hours_p90'])}, max {_fmt(delay['delay_hours_max'])}")


@strategy_app.command("check")
def check(
    files: Annotated[list[Path], typer.Argument(help="Strategy YAML files.", **READABLE_FILE)],
) -> None:
    """Load every FILE as the decision service would and print each problem as file:line."""
    from ringwatch.scoring.loader import check_files, load_strategy  # heavy: see `backtest`

    problems = check_files(files)
    if problems:
        _print_problems(problems)
        console.print(f"[red]{len(problems)} problem(s)[/red]")
        raise typer.Exit(1)
    for path in files:
        strategy = load_strategy(path)
        n_rules = len(strategy.rule_index)
        console.print(f"[green]ok[/green] {path}: {strategy.key}, {n_rules} rules, "
                      f"checkpoints {', '.join(strategy.checkpoints)}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("backtest")(backtest)
    app.add_typer(strategy_app, name="strategy")
