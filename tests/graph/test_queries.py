"""Query text comes only from files, and slots only from the label enums."""

from __future__ import annotations

import pytest

from ringwatch.graph.labels import Label, Rel
from ringwatch.graph.queries import cypher
from ringwatch.graph.store import SNAPSHOT_RELS


def test_a_rel_union_slot_is_filled_from_the_enum() -> None:
    text = cypher("read/scope_edges", RELS=(Rel.USES_DEVICE, Rel.ENGAGED))
    assert "[e:`USES_DEVICE`|`ENGAGED`]" in text
    assert "__" not in text
    assert all(
        f"`{rel.value}`" in cypher("read/scope_edges", RELS=SNAPSHOT_RELS) for rel in SNAPSHOT_RELS
    )


@pytest.mark.parametrize(
    "value",
    [(), ("USES_DEVICE",), (Rel.USES_DEVICE, "x`]->() DETACH DELETE (a) //"), "USES_DEVICE"],
)
def test_anything_but_rels_is_refused(value: object) -> None:
    with pytest.raises(ValueError):
        cypher("read/scope_edges", RELS=value)  # type: ignore[arg-type]


def test_missing_or_extra_slots_are_refused() -> None:
    with pytest.raises(ValueError, match="needs slots"):
        cypher("read/scope_edges")
    with pytest.raises(ValueError, match="needs slots"):
        cypher("read/scope_edges", RELS=(Rel.ENGAGED,), LABEL=Label.ACCOUNT)
