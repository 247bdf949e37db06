"""`ringwatch decide ACCOUNT_ID`: one decision at a checkpoint, with its reasons, from the CLI.

The same `DecisionService.decide` that answers `POST /v1/decisions`, so the same strategy, live
graph facts, shadow strategies and audit log. The event given with `--event` is part of the
account's history whatever the decision says: as with `ringwatch ingest`, it is written to the
graph straight away (no worker needed), after the decision has read the graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from ringwatch.cli.common import console, services
from ringwatch.features.registry import CHECKPOINTS

if TYPE_CHECKING:
    from ringwatch.services.ingest import IngestService


class _ApplyNow:
    """A batch queue that applies each accepted batch at once, in this process."""

    def __init__(self, ingest: IngestService) -> None:
        self.ingest = ingest
        self.pending: list[str] = []

    def enqueue(self, batch_id: str) -> None:
        self.pending.append(batch_id)

    def flush(self) -> None:
        while self.pending:
            self.ingest.apply(self.pending.pop(0))


def _event(value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    text = Path(value[1:]).read_bytes() if value.startswith("@") else value.encode()
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise typer.BadParameter(f"not JSON: {e}", param_hint="--event") from e
    if not isinstance(parsed, dict):
        raise typer.BadParameter("expected a JSON object (one event)", param_hint="--event")
    return parsed


def _checkpoint(value: str) -> str:
    if value not in CHECKPOINTS:
        raise typer.BadParameter(f"choose one of: {', '.join(CHECKPOINTS)}")
    return value


def decide(
    account_id: Annotated[str, typer.Argument(help="The platform's account id.")],
    checkpoint: Annotated[
        str,
        typer.Option(
            "--checkpoint", "-c", callback=_checkpoint, help=f"One of: {', '.join(CHECKPOINTS)}."
        ),
    ] = "signup",
    event: Annotated[
        str | None,
        typer.Option(
            "--event",
            "-e",
            help="The event at this checkpoint, as JSON (docs/events.md), or @FILE; "
            "account_id may be left out. It is ingested too.",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the decision as JSON (the API's response).")
    ] = False,
) -> None:
    """Decide what should happen to an account at a checkpoint, and say why."""
    context = _event(event)
    with services() as svc:
        queue = _ApplyNow(svc.ingest)
        decision = svc.decisions.decide(account_id, checkpoint, context, queue)
        queue.flush()
    if as_json:
        typer.echo(orjson.dumps(decision, option=orjson.OPT_INDENT_2).decode())
        return
    console.print(
        f"[bold]{decision['account_id']}[/bold] at {decision['checkpoint']}: "
        f"[bold]{decision['action']}[/bold] (score {decision['score']}, "
        f"strategy {decision['strategy']}, {decision['decision_id']})",
        highlight=False,
        soft_wrap=True,
    )
    # One line per reason, never a table: nothing is cut at any terminal width.
    for r in decision["reasons"]:
        seen = ", ".join(f"{k}={v}" for k, v in r["seen"].items())
        console.print(
            f"  {r['points']:>+4}  {r['reason']}  (rule {r['rule']}; saw {seen or 'nothing'})",
            highlight=False,
            soft_wrap=True,
        )
    if not decision["reasons"]:
        console.print("  no rule fired")
    ring = decision.get("ring")
    if ring:
        member = "member of" if ring["member"] else "linked to"
        console.print(
            f"ring: {member} {ring['id']} ({ring['verdict']}, {ring['size']} accounts, "
            f"score {ring['score']:.2f})",
            highlight=False,
            soft_wrap=True,
        )
    evader = decision.get("evader")
    if evader:
        banned = ", ".join(evader["banned_neighbours"]) or "none"
        console.print(
            f"evader: score {evader['score']:.2f}; shares identifiers with banned: {banned}",
            highlight=False,
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    app.command("decide")(decide)
