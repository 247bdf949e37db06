"""Read event files: JSON Lines (optionally gzipped) or CSV with the event fields as columns."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson


class LineError(ValueError):
    pass


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _is_csv(path: Path) -> bool:
    name = path.name.removesuffix(".gz")
    return name.endswith(".csv")


def read_events(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield (line number, raw event or LineError) for every event line, in file order."""
    with _open_text(path) as handle:
        if _is_csv(path):
            reader = csv.DictReader(handle)
            for row in reader:
                # An empty cell means "not given": CSV has one column set for every event type.
                yield reader.line_num, {k: v for k, v in row.items() if k and v not in ("", None)}
            return
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, orjson.loads(line)
            except orjson.JSONDecodeError as e:
                yield number, LineError(f"not valid JSON: {e}")


def read_raw_events(path: Path) -> Iterator[tuple[int, Any]]:
    """Like `read_events`, but JSON lines come as undecoded bytes (`decode_event` reads them):
    decoding then happens wherever the event is validated, e.g. in a normaliser process."""
    if _is_csv(path):
        yield from read_events(path)
        return
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line


def decode_event(raw: Any) -> Any:
    """A raw item of `read_raw_events` as `read_events` gives it."""
    if not isinstance(raw, bytes):
        return raw
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        return LineError(f"not valid JSON: {e}")


def file_digest(path: Path) -> str:
    """Content digest: the same file gets the same batch ids, so a rerun resumes, not repeats."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:20]
