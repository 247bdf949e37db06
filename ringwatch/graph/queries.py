"""Load Cypher by name from `ringwatch/cypher/`; the only way code gets query text.

Files may hold `__LABEL__`-style slots. They are filled only with members of the enums in
`labels.py` (backticked), so no input can change a query's shape; values always go as `$params`.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from ringwatch.graph.labels import Label, Rel

_SLOT = re.compile(r"__([A-Z]+)__")
_COMMENT = re.compile(r"^\s*//.*$", re.MULTILINE)
_PROPERTY = re.compile(r"^[a-z_][a-z0-9_]*$")


@cache
def _text(name: str) -> str:
    path = resources.files("ringwatch.cypher").joinpath(f"{name}.cypher")
    return _COMMENT.sub("", path.read_text()).strip()


def source(name: str) -> str:
    """Query text for `name` as written, comments dropped and slots still open."""
    return _text(name)


def slots_of(name: str) -> set[str]:
    """The slots `cypher(name, ...)` must be given."""
    return set(_SLOT.findall(_text(name)))


def cypher(name: str, **slots: Label | Rel | tuple[Rel, ...] | str) -> str:
    """Query text for `name` ('write/link_identifier'), slots filled from the whitelists; a
    tuple of Rels fills a slot with their union (`A`|`B`)."""
    text = _text(name)
    wanted = slots_of(name)
    if wanted != set(slots):
        raise ValueError(f"query {name!r} needs slots {sorted(wanted)}, got {sorted(slots)}")
    for slot, value in slots.items():
        if isinstance(value, Label | Rel):
            filled = f"`{value.value}`"
        elif isinstance(value, tuple):
            if not value or not all(isinstance(v, Rel) for v in value):
                raise ValueError(f"slot {slot} takes Rels, not {value!r}")
            filled = "|".join(f"`{v.value}`" for v in value)
        elif slot == "PROP" and _PROPERTY.match(value):
            filled = value
        else:
            raise ValueError(f"slot {slot} takes a Label or Rel, not {value!r}")
        text = text.replace(f"__{slot}__", filled)
    return text
