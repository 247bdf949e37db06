"""One published wheel, fetched with pip at a pinned version and hash into a cache folder.

For tests and benchmarks that read data a package ships (the Compose specification inside
docker-compose, the YelpChi reviews inside UGFraud) without committing it. pip checks the hash
while downloading (`--require-hashes`); a wheel already in the cache is checked again, so a
truncated or replaced file is fetched anew rather than read.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path


class WheelUnavailable(RuntimeError):
    """pip could not fetch the wheel (no index reachable, or a hash mismatch)."""


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pinned_wheel(
    project: str, version: str, sha256: str, wheel: str, cache: Path, timeout: float = 300
) -> Path:
    """`cache / wheel`, downloaded with `pip download project==version` (no dependencies,
    binary only) unless a copy with that sha256 is already there."""
    path = cache / wheel
    if path.exists() and sha256_of(path) == sha256:
        return path
    path.unlink(missing_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    requirements = cache / f"{project}-requirements.txt"
    requirements.write_text(f"{project}=={version} --hash=sha256:{sha256}\n")
    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--require-hashes",
            "--only-binary=:all:",
            "-q",
            "-d",
            str(cache),
            "-r",
            str(requirements),
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if ran.returncode != 0 or not path.exists():
        raise WheelUnavailable(
            f"cannot fetch {project} {version} ({wheel}) from the package index: "
            f"{ran.stderr.strip()[-500:]}"
        )
    return path
