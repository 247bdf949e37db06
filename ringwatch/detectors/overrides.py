"""Detection parameters from a mapping of overrides (a shadow candidate's parameters file).

Pure: the caller reads the file. Only the fields given change; nested parameter groups
(`verdicts`, `projection`, `calibration`...) take nested mappings, so a candidate states what it
changes and inherits every other default, including defaults changed later in code. A key that
is not a field, or a value of the wrong type, is refused with its dotted path: a typo must not
leave a candidate silently identical to the live run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from ringwatch.errors import Invalid, Problem

T = TypeVar("T")


def _coerce(path: str, current: Any, value: Any) -> Any:
    if dataclasses.is_dataclass(current) and not isinstance(current, type):
        if not isinstance(value, Mapping):
            raise _refuse(path, "expected a mapping of that group's fields")
        return apply_overrides(current, value, path)
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise _refuse(path, "expected true or false")
        return value
    if isinstance(current, int) and not isinstance(current, bool):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _refuse(path, "expected an integer")
        return value
    if isinstance(current, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _refuse(path, "expected a number")
        return float(value)
    if isinstance(current, str):
        if not isinstance(value, str):
            raise _refuse(path, "expected a string")
        return value
    if isinstance(current, Mapping):
        if not isinstance(value, Mapping):
            raise _refuse(path, "expected a mapping")
        merged = dict(current)
        for k, v in value.items():
            if k not in current:
                raise _refuse(f"{path}.{k}", f"unknown key; known: {sorted(current)}")
            merged[k] = _coerce(f"{path}.{k}", current[k], v)
        return MappingProxyType(merged) if isinstance(current, MappingProxyType) else merged
    if isinstance(current, tuple):
        if not isinstance(value, list | tuple):
            raise _refuse(path, "expected a list")
        return tuple(value)
    raise _refuse(path, "this parameter cannot be overridden from a file")


def _refuse(path: str, reason: str) -> Invalid:
    return Invalid(f"shadow detection parameters: {path}: {reason}", [Problem(path, reason)])


def apply_overrides(params: T, overrides: Mapping[str, Any], prefix: str = "") -> T:
    """`params` (a frozen dataclass) with the fields in `overrides` replaced, recursively."""
    assert dataclasses.is_dataclass(params) and not isinstance(params, type)
    fields = {f.name for f in dataclasses.fields(params)}
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if key not in fields:
            raise _refuse(path, f"unknown parameter; known: {sorted(fields)}")
        changes[key] = _coerce(path, getattr(params, key), value)
    out: T = dataclasses.replace(params, **changes)
    return out
