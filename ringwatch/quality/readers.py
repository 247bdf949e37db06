"""Read truth.json and the detection exports, failing with the file and line on bad input."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ringwatch.vocabulary import FLAGGED_VERDICTS, Verdict

VERDICTS: frozenset[str] = frozenset(Verdict)
FLAGGED: frozenset[str] = FLAGGED_VERDICTS


class ExportError(ValueError):
    """An input file that does not follow docs/exports.md; the message names file and line."""


@dataclass(frozen=True)
class Truth:
    accounts: int
    labels: dict[str, str]  # non-benign accounts only
    rings: list[dict[str, Any]]
    repeat_offenders: dict[str, list[str]]  # account -> banned accounts it continues
    groups: list[dict[str, Any]] = field(default_factory=list)
    default_label: str = "benign"

    def label(self, account: str) -> str:
        return self.labels.get(account, self.default_label)

    def is_bad(self, account: str) -> bool:
        return self.label(account) != "benign"


@dataclass(frozen=True)
class FlaggedRing:
    ring_id: str
    members: frozenset[str]
    verdict: str
    score: float

    @property
    def flagged(self) -> bool:
        return self.verdict in FLAGGED


@dataclass(frozen=True)
class EvaderRow:
    account_id: str
    matched: list[str]
    score: float


@dataclass(frozen=True)
class AccountRow:
    account_id: str
    score: float
    action: str | None


def read_truth(path: Path) -> Truth:
    try:
        raw = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as e:
        raise ExportError(f"{path}: cannot read truth ({e})") from e
    try:
        return Truth(
            accounts=int(raw["accounts"]),
            labels=dict(raw.get("labels", {})),
            rings=list(raw["rings"]),
            repeat_offenders={
                r["account_id"]: list(r["continues"]) for r in raw.get("repeat_offenders", [])
            },
            groups=list(raw.get("groups", [])),
            default_label=str(raw.get("default_label", "benign")),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ExportError(f"{path}: not a ringwatch truth file (missing or bad {e})") from e


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        fh = path.open("rb")
    except OSError as e:
        raise ExportError(f"{path}: {e.strerror}") from e
    with fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                raise ExportError(f"{path}:{number}: invalid JSON ({e})") from e
            if not isinstance(obj, dict):
                raise ExportError(f"{path}:{number}: expected a JSON object")
            yield number, obj


def _score(path: Path, number: int, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExportError(f"{path}:{number}: score must be a number")
    return float(value)


def read_rings(path: Path) -> list[FlaggedRing]:
    out = []
    for number, obj in _lines(path):
        try:
            members = obj["members"]
            verdict = obj["verdict"]
            ring_id = str(obj["ring_id"])
        except KeyError as e:
            raise ExportError(f"{path}:{number}: missing field {e}") from e
        if verdict not in VERDICTS:
            raise ExportError(
                f"{path}:{number}: verdict must be one of {sorted(VERDICTS)}, got {verdict!r}"
            )
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise ExportError(f"{path}:{number}: members must be a list of account ids")
        score = _score(path, number, obj.get("score", 0.0))
        out.append(FlaggedRing(ring_id, frozenset(members), verdict, score))
    return out


def read_evaders(path: Path) -> list[EvaderRow]:
    out = []
    for number, obj in _lines(path):
        matched = obj.get("matched")
        if "account_id" not in obj or not isinstance(matched, list):
            raise ExportError(f"{path}:{number}: needs account_id and a matched list")
        out.append(
            EvaderRow(
                str(obj["account_id"]),
                [str(m) for m in matched],
                _score(path, number, obj.get("score", 0.0)),
            )
        )
    return out


def read_accounts(path: Path) -> list[AccountRow]:
    out = []
    for number, obj in _lines(path):
        if "account_id" not in obj or "score" not in obj:
            raise ExportError(f"{path}:{number}: needs account_id and score")
        action = obj.get("action")
        out.append(
            AccountRow(
                str(obj["account_id"]),
                _score(path, number, obj["score"]),
                None if action is None else str(action),
            )
        )
    return out
