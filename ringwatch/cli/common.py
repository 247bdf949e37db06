"""Shared CLI plumbing: settings, services, turning errors into clean exits."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from pydantic import ValidationError
from rich.console import Console

from ringwatch.errors import Problem, RingwatchError
from ringwatch.settings import Settings

if TYPE_CHECKING:
    from ringwatch.services.context import Services

console = Console(stderr=True)


# Typer checks for file arguments and options: they must name a readable file.
READABLE_FILE: dict[str, Any] = {"exists": True, "dir_okay": False, "readable": True}


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as e:
        for err in e.errors():
            field = "RINGWATCH_" + "_".join(str(p) for p in err["loc"]).upper()
            console.print(f"[red]setting {field}[/red]: {err['msg']}")
        raise typer.Exit(2) from e


@contextmanager
def services(
    settings: Settings | None = None, *, detection_seed: int = 0
) -> Iterator[Services]:
    # Imported here: the services pull in numpy, scipy, scikit-learn and the drivers (seconds
    # on a busy machine), which `--help`, `synth` and a load's worker processes (each spawned
    # interpreter imports the `ringwatch` script again) do not need.
    from ringwatch.services.context import Services

    svc = Services(settings or load_settings(), detection_seed=detection_seed)
    try:
        yield svc
    except RingwatchError as e:
        console.print(f"[red]error:[/red] {e.message}")
        for p in e.problems:
            console.print(f"  {p.field}: {p.reason}")
        raise typer.Exit(1) from e
    finally:
        svc.close()


def print_rejections(rejected: Sequence[Problem], rejects: Path, most: int = 5) -> None:
    """Where the rejected events went and their most common reasons (field: reason)."""
    if not rejected:
        return
    reasons = Counter(f"{p.field}: {p.reason}" for p in rejected)
    console.print(f"rejected events are in {rejects}; most common reasons:")
    for reason, n in reasons.most_common(most):
        console.print(f"  {n:>8,}  {reason}")
