"""Analysts: ad-hoc read-only Cypher and the saved investigations in `cypher/investigations/`.

Every query, saved ones included, goes through the read-only guard and then the store's
`analyst_read` (read-only engine mode, timeout, row cap): the saved files get no trust the ad-hoc
path does not.

A saved investigation declares itself in its leading comment block, which is the catalogue:

    // name: one-line description
    // @param name type [= default] [(min..max)]  what it means
    // free text: notes shown with the catalogue entry

Types are `string`, `int`, `float` and `bool`; a parameter without a default is required.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from ringwatch.errors import Invalid, NotFound, Problem
from ringwatch.graph.queries import cypher
from ringwatch.graph.readonly import check_read_only
from ringwatch.graph.store import AnalystResult, GraphStore

INVESTIGATIONS_DIR = "investigations"
MAX_STRING_PARAM = 1000

_TITLE = re.compile(r"^//\s*(?P<name>[a-z][a-z0-9_]*):\s*(?P<description>\S.*)$")
_PARAM = re.compile(
    r"^//\s*@param\s+(?P<name>[a-z_][a-z0-9_]*)\s+(?P<type>string|int|float|bool)"
    r"(?:\s*=\s*(?P<default>\S+))?"
    r"(?:\s*\((?P<low>-?\d+)\.\.(?P<high>-?\d+)\))?"
    r"(?:\s+(?P<doc>\S.*))?$"
)


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # string | int | float | bool
    description: str
    default: Any = None
    required: bool = True
    minimum: int | None = None
    maximum: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "description": self.description,
        }
        if not self.required:
            out["default"] = self.default
        if self.minimum is not None:
            out["minimum"] = self.minimum
            out["maximum"] = self.maximum
        return out


@dataclass(frozen=True)
class Investigation:
    name: str
    description: str
    params: tuple[Param, ...]
    notes: str = ""
    query: str = field(default="", repr=False)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "params": [p.as_dict() for p in self.params],
        }
        if self.notes:
            out["notes"] = self.notes
        return out


def parse_header(name: str, text: str) -> Investigation:
    """The catalogue entry from a file's leading comment block. ValueError on a malformed one:
    a broken saved query is a bug to catch at load time, not a 500 on first use."""
    lines = text.splitlines()
    if not lines or not (title := _TITLE.match(lines[0].strip())):
        raise ValueError(f"investigation {name!r}: first line must be '// {name}: description'")
    if title["name"] != name:
        raise ValueError(f"investigation {name!r}: header names it {title['name']!r}")
    params: list[Param] = []
    notes: list[str] = []
    for line in lines[1:]:
        line = line.strip()
        if not line.startswith("//"):
            break
        if "@param" in line:
            params.append(_parse_param(name, line))
        else:
            notes.append(line[2:].strip())
    return Investigation(
        name=name,
        description=title["description"].strip(),
        params=tuple(params),
        notes=" ".join(n for n in notes if n),
        query=cypher(f"{INVESTIGATIONS_DIR}/{name}"),
    )


def _parse_param(name: str, line: str) -> Param:
    m = _PARAM.match(line)
    if not m:
        raise ValueError(f"investigation {name!r}: cannot read parameter line {line!r}")
    kind = m["type"]
    low = int(m["low"]) if m["low"] is not None else None
    high = int(m["high"]) if m["high"] is not None else None
    if (low is not None) and kind not in ("int", "float"):
        raise ValueError(f"investigation {name!r}: a range needs a numeric type ({m['name']})")
    param = Param(
        name=m["name"],
        type=kind,
        description=(m["doc"] or "").strip(),
        minimum=low,
        maximum=high,
    )
    if m["default"] is None:
        return param
    try:
        default = _coerce_default(kind, m["default"])
    except ValueError as e:
        raise ValueError(f"investigation {name!r}: bad default for {m['name']}: {e}") from e
    return Param(
        name=param.name,
        type=kind,
        description=param.description,
        default=default,
        required=False,
        minimum=low,
        maximum=high,
    )


def _coerce_default(kind: str, text: str) -> Any:
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "bool":
        if text not in ("true", "false"):
            raise ValueError(f"{text!r} is not true or false")
        return text == "true"
    return text.strip("'\"")


@cache
def catalogue() -> dict[str, Investigation]:
    """Every saved investigation, by name, read once per process."""
    folder = resources.files("ringwatch.cypher").joinpath(INVESTIGATIONS_DIR)
    found: dict[str, Investigation] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".cypher"):
            name = entry.name.removesuffix(".cypher")
            found[name] = parse_header(name, entry.read_text())
    return found


def investigation(name: str) -> Investigation:
    found = catalogue().get(name)
    if found is None:
        raise NotFound(
            f"no investigation {name!r}",
            [Problem(field="name", reason=f"known: {', '.join(sorted(catalogue()))}")],
        )
    return found


def bind(inv: Investigation, given: dict[str, Any]) -> dict[str, Any]:
    """The parameters to run `inv` with: defaults filled in, every value checked."""
    problems: list[Problem] = []
    known = {p.name for p in inv.params}
    for extra in sorted(set(given) - known):
        problems.append(Problem(field=f"params.{extra}", reason="unknown parameter"))
    bound: dict[str, Any] = {}
    for param in inv.params:
        if param.name not in given:
            if param.required:
                problems.append(Problem(field=f"params.{param.name}", reason="required"))
            else:
                bound[param.name] = param.default
            continue
        value, reason = _check(param, given[param.name])
        if reason:
            problems.append(Problem(field=f"params.{param.name}", reason=reason))
        else:
            bound[param.name] = value
    if problems:
        raise Invalid(f"bad parameters for investigation {inv.name!r}", problems)
    return bound


def _check(param: Param, value: Any) -> tuple[Any, str]:
    if param.type == "string":
        if not isinstance(value, str):
            return None, "must be a string"
        if not value or len(value) > MAX_STRING_PARAM:
            return None, f"must be 1 to {MAX_STRING_PARAM} characters"
        return value, ""
    if param.type == "bool":
        return (value, "") if isinstance(value, bool) else (None, "must be true or false")
    # bool is an int to Python; JSON `true` is not a number to an analyst.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, f"must be {'an integer' if param.type == 'int' else 'a number'}"
    if param.type == "int":
        if isinstance(value, float):
            if not value.is_integer():
                return None, "must be an integer"
            value = int(value)
    else:
        value = float(value)
    if (
        param.minimum is not None
        and param.maximum is not None
        and not param.minimum <= value <= param.maximum
    ):
        return None, f"must be between {param.minimum} and {param.maximum}"
    return value, ""


def run_query(
    store: GraphStore,
    query: str,
    params: dict[str, Any] | None,
    *,
    timeout_s: float,
    row_cap: int,
) -> AnalystResult:
    """An ad-hoc analyst query: refused before the database if it could write (Forbidden), then
    run read-only with the timeout and row cap."""
    check_read_only(query)
    problems = list(param_problems(params or {}, "params"))
    if problems:
        raise Invalid("invalid query parameters", problems)
    return store.analyst_read(query, params or {}, timeout_s=timeout_s, row_cap=row_cap)


_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def param_problems(value: Any, where: str) -> list[Problem]:
    """What the engines cannot take as parameters: names that are not Cypher identifiers (map
    keys included) and control characters in strings. The embedded engine's client writes
    parameters into the query text, and such values broke the query or the engine (found by the
    schemathesis fuzzer)."""
    problems: list[Problem] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if not _PARAM_NAME.match(str(key)):
                problems.append(Problem(field=where, reason=f"{key!r} is not a parameter name"))
            else:
                problems += param_problems(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            problems += param_problems(item, f"{where}[{i}]")
    elif isinstance(value, str) and _CONTROL.search(value):
        problems.append(Problem(field=where, reason="must not contain control characters"))
    return problems


def run_investigation(
    store: GraphStore,
    name: str,
    params: dict[str, Any] | None,
    *,
    timeout_s: float,
    row_cap: int,
) -> AnalystResult:
    inv = investigation(name)
    return run_query(
        store, inv.query, bind(inv, params or {}), timeout_s=timeout_s, row_cap=row_cap
    )
