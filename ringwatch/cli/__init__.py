"""`ringwatch` command line: each command lives in its own module and registers itself here."""

from __future__ import annotations

import importlib
import logging
import time

# When the command began, before its heavy imports (numpy, scipy, drivers): on a busy machine
# they take seconds, and a run's table must account for them too.
STARTED = time.perf_counter()

import typer  # noqa: E402

app = typer.Typer(
    name="ringwatch",
    help="Find fraud rings, ban evaders and coordinated abuse in an identity graph.\n\n"
    "With no RINGWATCH_NEO4J_URI set, everything runs on the embedded engine under "
    "RINGWATCH_DATA_DIR (default ~/.local/share/ringwatch).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

# Each command module registers itself; a missing one is a broken install, so the import fails
# loudly instead of the command silently disappearing from --help.
_COMMAND_MODULES = (
    "ingest",
    "load",
    "serve",
    "graph",
    "synth",
    "evaluate",
    "detect",
    "backtest",
    "keys",
    "decide",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(f"ringwatch.cli.{_name}").register(app)


def main() -> None:
    from ringwatch.cli.lifecycle import exit_cleanly_on_signals

    exit_cleanly_on_signals()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()
