"""Tables -> CSV files -> `neo4j-admin database import full`, with the DBMS offline meanwhile.

The import tool writes the store files itself, so the DBMS must not have the database open.
Community Neo4j cannot stop a single database (`STOP DATABASE` is an Enterprise command), so
the whole DBMS is stopped, the database is imported over its (empty) files, and the DBMS is
started again. How a deployment stops and starts its server differs (systemd, the tarball's
`bin/neo4j`, `scripts/neo4j.sh` for the test server), so the three commands are settings.

CSV as the tool reads it by default: comma-separated, strings in double quotes with `""` for
a quote inside, an empty unquoted field for "no property" (so a null never becomes ""), typed
headers (`first_seen:long`), one ID space per label (`key:ID(Device)`).
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ringwatch.errors import Unavailable
from ringwatch.graph.bulk.graph import Column, Tables

_LINES_PER_WRITE = 50_000


@dataclass(frozen=True)
class Neo4jAdmin:
    """How to reach the DBMS's files: the neo4j-admin command and the server's stop/start."""

    admin: str
    stop: str
    start: str
    database: str = "neo4j"


@dataclass(frozen=True)
class ImportFiles:
    args: list[str]
    multiline: bool
    bytes: int


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return '"' + value.replace('"', '""') + '"'
    return str(value)


def _has_newline(value: Any) -> bool:
    return isinstance(value, str) and ("\n" in value or "\r" in value)


def _typed(name: str, kind: type) -> str:
    return f"{name}:long" if kind is int else name


def _write(path: Path, header: list[str], rows: Sequence[tuple[Any, ...]]) -> tuple[bool, int]:
    multiline = False
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(",".join(header) + "\n")
        for start in range(0, len(rows), _LINES_PER_WRITE):
            chunk = rows[start : start + _LINES_PER_WRITE]
            lines = [",".join([_cell(v) for v in row]) for row in chunk]
            text = "\n".join(lines) + "\n"
            if not multiline and ("\r" in text or text.count("\n") != len(lines)):
                multiline = any(_has_newline(v) for row in chunk for v in row)
            out.write(text)
    return multiline, path.stat().st_size


def write_import_files(tables: Tables, directory: Path) -> ImportFiles:
    """One CSV per label and per relationship type under `directory`, and the import options
    that name them."""
    directory.mkdir(parents=True, exist_ok=True)
    args: list[str] = []
    multiline = False
    size = 0

    def header(columns: Sequence[Column]) -> list[str]:
        return [_typed(name, kind) for name, kind in columns]

    for nodes in tables.nodes:
        key, *rest = nodes.columns
        path = directory / f"nodes-{nodes.label.value}.csv"
        head = [f"{key[0]}:ID({nodes.label.value})", *header(rest)]
        m, n = _write(path, head, nodes.rows)
        multiline, size = multiline or m, size + n
        args.append(f"--nodes={nodes.label.value}={path}")
    for edges in tables.edges:
        path = directory / f"edges-{edges.rel.value}-{edges.start.value}-{edges.end.value}.csv"
        head = [f":START_ID({edges.start.value})", f":END_ID({edges.end.value})"]
        m, n = _write(path, head + header(edges.columns), edges.rows)
        multiline, size = multiline or m, size + n
        args.append(f"--relationships={edges.rel.value}={path}")
    return ImportFiles(args, multiline, size)


def _run(command: Sequence[str], log: Path, what: str) -> None:
    with open(log, "ab") as out:
        out.write(f"\n$ {shlex.join(command)}\n".encode())
        out.flush()
        try:
            done = subprocess.run(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        except OSError as e:
            raise Unavailable(f"could not run {what} ({shlex.join(command)}): {e}") from e
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise Unavailable(
            f"{what} failed (exit {done.returncode}: {shlex.join(command)}); "
            f"the end of {log}:\n{tail}"
        )


def offline_import(
    admin: Neo4jAdmin,
    files: ImportFiles,
    log: Path,
    stage: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """Stop the DBMS, import over the database, start it again (also when the import failed,
    so a failed load leaves the server up as it found it). Seconds per step."""
    seconds: dict[str, float] = {}

    def step(name: str, command: Sequence[str], what: str) -> None:
        if stage:
            stage(name)
        started = time.perf_counter()
        _run(command, log, what)
        seconds[name] = time.perf_counter() - started

    step("stop server", shlex.split(admin.stop), "stopping Neo4j")
    try:
        step(
            "neo4j-admin import",
            [
                *shlex.split(admin.admin),
                "database",
                "import",
                "full",
                admin.database,
                "--overwrite-destination=true",
                "--bad-tolerance=0",
                "--id-type=string",
                f"--multiline-fields={'true' if files.multiline else 'false'}",
                f"--report-file={log.with_suffix('.report')}",
                *files.args,
            ],
            "neo4j-admin database import",
        )
    finally:
        step("start server", shlex.split(admin.start), "starting Neo4j")
    return seconds
