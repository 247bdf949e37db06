"""`ringwatch summary` and `ringwatch schema`."""

from __future__ import annotations

import sys
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from ringwatch.cli.common import services
from ringwatch.events import json_schema

out = Console()


def summary(
    top: Annotated[
        int, typer.Option(min=1, max=100, help="How many of the most shared identifiers per type.")
    ] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """What the graph holds: accounts, identifiers, edges by type, the most shared identifiers."""
    with services() as svc:
        s = svc.store.summary(top=top)
    if as_json:
        sys.stdout.write(orjson.dumps(s.__dict__, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    nodes = Table(title=f"nodes ({s.engine})")
    nodes.add_column("label")
    nodes.add_column("count", justify="right")
    for label, n in s.nodes.items():
        nodes.add_row(label, f"{n:,}")
    edges = Table(title="edges")
    edges.add_column("type")
    edges.add_column("edges", justify="right")
    edges.add_column("events", justify="right")
    for rel, n in s.edges.items():
        edges.add_row(rel, f"{n:,}", f"{s.edge_events.get(rel, 0):,}")
    shared = Table(title="most shared identifiers (hashed; subnets and email domains in clear)")
    shared.add_column("type")
    shared.add_column("identifier")
    shared.add_column("accounts", justify="right")
    for kind, rows in s.top_shared.items():
        for key, n in rows:
            shared.add_row(kind, key, f"{n:,}")
    out.print(nodes, edges, shared)


def schema() -> None:
    """Print the JSON Schema of an event."""
    sys.stdout.write(orjson.dumps(json_schema(), option=orjson.OPT_INDENT_2).decode() + "\n")


def register(app: typer.Typer) -> None:
    app.command("summary")(summary)
    app.command("schema")(schema)
