"""The files of a sharded detection run: what the coordinator hands its shard tasks and what
they hand back (services/fanout.py).

A shard task's Celery message carries only a run id and a part name; the arrays live in the
run's directory as numpy `.npz` files (no pickle: `allow_pickle=False` on every load, so a file
in the directory cannot run code in the coordinator) and the evader matches' evidence as JSON.
Every file is written to a temporary name and renamed into place, so a reader never sees half
a file and a task that runs twice (a redelivery) simply replaces a file with the same bytes.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import scipy.sparse as sp

from ringwatch.detectors.communities import LeidenPlan
from ringwatch.detectors.evaders import EvaderMatches
from ringwatch.detectors.pipeline import BannedMatch, DetectParams, EvaderMatch, EvaderPart
from ringwatch.detectors.snapshot import Snapshot
from ringwatch.errors import Invalid, Problem

# Run ids name directories: nothing that could climb out of the runs directory.
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

_SNAPSHOT_TEXT = ("accounts", "country", "birthdate", "identifiers", "engage_targets")
_SNAPSHOT_ARRAYS = (
    "created_at",
    "banned_at",
    "name_sketch",
    "email_sketch",
    "identifier_kind",
    "relations",
    "engagements",
)
_SNAPSHOT_SPARSE = ("links", "link_first_seen")
_MATCH_FIELDS = tuple(f.name for f in dataclasses.fields(EvaderMatches))


def run_dir(root: Path, run_id: str) -> Path:
    if not RUN_ID.match(run_id):
        reason = "letters, digits, '.', '_' and '-' only, at most 128"
        raise Invalid(f"run_id: {reason}", [Problem("run_id", reason)])
    return root / run_id


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _save_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]  # numpy's stub wants one array type
    os.replace(tmp, path)


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _sparse(prefix: str, m: sp.csr_matrix) -> dict[str, np.ndarray]:
    m = sp.csr_matrix(m)
    return {
        f"{prefix}.data": m.data,
        f"{prefix}.indices": m.indices,
        f"{prefix}.indptr": m.indptr,
        f"{prefix}.shape": np.asarray(m.shape, dtype=np.int64),
    }


def _unsparse(prefix: str, a: Mapping[str, np.ndarray]) -> sp.csr_matrix:
    shape = tuple(int(x) for x in a[f"{prefix}.shape"])
    parts = (a[f"{prefix}.data"], a[f"{prefix}.indices"], a[f"{prefix}.indptr"])
    return sp.csr_matrix(parts, shape)


def _text(values: np.ndarray) -> np.ndarray:
    # Fixed-width unicode instead of object arrays, so no pickle is needed to read them back.
    return np.asarray([str(v) for v in values.tolist()], dtype=np.str_)


def save_snapshot(path: Path, snapshot: Snapshot) -> None:
    arrays: dict[str, np.ndarray] = {k: _text(getattr(snapshot, k)) for k in _SNAPSHOT_TEXT}
    arrays.update({k: np.asarray(getattr(snapshot, k)) for k in _SNAPSHOT_ARRAYS})
    for k in _SNAPSHOT_SPARSE:
        arrays.update(_sparse(k, getattr(snapshot, k)))
    if snapshot.verified is not None:
        arrays["verified"] = snapshot.verified
    if snapshot.identifier_accounts is not None:
        arrays["identifier_accounts"] = snapshot.identifier_accounts
    _save_npz(path, arrays)


def load_snapshot(path: Path) -> Snapshot:
    a = _load_npz(path)
    fields: dict[str, Any] = {k: a[k].astype(object) for k in _SNAPSHOT_TEXT}
    fields.update({k: a[k] for k in _SNAPSHOT_ARRAYS})
    fields.update({k: _unsparse(k, a) for k in _SNAPSHOT_SPARSE})
    fields["verified"] = a.get("verified")
    fields["identifier_accounts"] = a.get("identifier_accounts")
    return Snapshot(**fields)


def save_plan(path: Path, plan: LeidenPlan) -> None:
    _save_npz(
        path,
        {
            **_sparse("upper", plan.upper),
            "component": plan.component,
            "nodes": plan.nodes,
            "cuts": plan.cuts,
        },
    )


def load_plan(path: Path) -> LeidenPlan:
    a = _load_npz(path)
    return LeidenPlan(_unsparse("upper", a), a["component"], a["nodes"], a["cuts"])


def save_memberships(path: Path, memberships: Mapping[int, np.ndarray]) -> None:
    _save_npz(path, {f"b{b}": m for b, m in memberships.items()})


def load_memberships(path: Path) -> dict[int, np.ndarray]:
    return {int(k[1:]): v for k, v in _load_npz(path).items()}


def save_evaders(folder: Path, part: EvaderPart, name: str = "evaders") -> None:
    """The matches' arrays as .npz and the matches as the run reports them as JSON; the JSON
    is renamed into place last, so its presence means both are there."""
    _save_npz(folder / f"{name}.npz", {k: getattr(part.matches, k) for k in _MATCH_FIELDS})
    rows = [
        {
            "account_id": e.account_id,
            "matched": [
                {"banned_id": m.banned_id, "score": m.score, "evidence": m.evidence}
                for m in e.matched
            ],
        }
        for e in part.output
    ]
    _write_atomic(folder / f"{name}.json", orjson.dumps(rows, option=orjson.OPT_SERIALIZE_NUMPY))


def load_evaders(folder: Path, name: str = "evaders") -> EvaderPart:
    rows = orjson.loads((folder / f"{name}.json").read_bytes())
    a = _load_npz(folder / f"{name}.npz")
    output = tuple(
        EvaderMatch(
            account_id=r["account_id"],
            matched=tuple(
                BannedMatch(banned_id=m["banned_id"], score=m["score"], evidence=m["evidence"])
                for m in r["matched"]
            ),
        )
        for r in rows
    )
    return EvaderPart(EvaderMatches(**{k: a[k] for k in _MATCH_FIELDS}), output)


def write_json(path: Path, value: Any) -> None:
    _write_atomic(path, orjson.dumps(value))


def read_json(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


def params_record(params: DetectParams, seed: int) -> dict[str, Any]:
    """What a shard needs of the run's parameters, as JSON (`shard_params` reads it back)."""

    def plain(group: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(group):
            value = getattr(group, f.name)
            out[f.name] = (
                dict(value)
                if isinstance(value, Mapping)
                else list(value)
                if isinstance(value, tuple)
                else value
            )
        return out

    return {
        "seed": seed,
        "params": {
            "resolution": params.resolution,
            "n_iterations": params.n_iterations,
            "use_linkage": params.use_linkage,
            "linkage_adds_matches": params.linkage_adds_matches,
            "evaders": plain(params.evaders),
            "linkage": plain(params.linkage),
        },
    }


def shard_params(record: Mapping[str, Any]) -> tuple[DetectParams, int]:
    from ringwatch.detectors.overrides import apply_overrides

    return apply_overrides(DetectParams(), record["params"]), int(record["seed"])
