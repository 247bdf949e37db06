"""The embedded store's parameter encoding (JSON rewritten as Cypher literals) round-trips
every value the write path sends, including text that looks like JSON or Cypher syntax."""

from __future__ import annotations

from typing import Any

import pytest
from falkordb.helpers import stringify_param_value

from ringwatch.graph.falkordb_store import FalkorDBStore, cypher_literal

AWKWARD = [
    'quote " inside',
    "back\\slash",
    "ends with backslash \\",
    'looks like a key "a": 1',
    '\\"a": escaped quote before a key shape',
    "tab\tand\nnewline",
    "unicode: José Ōsaka 東京 😀",
    "{`x`: 1}",
    "",
    "$rows",
    "'single'",
]


@pytest.mark.parametrize("text", AWKWARD)
def test_strings_round_trip(falkordb_store: FalkorDBStore, text: str) -> None:
    rows: list[dict[str, Any]] = [{"k": text, "n": 3, "none": None, "flag": True}]
    falkordb_store.write(
        "UNWIND $rows AS r CREATE (:Probe {k: r.k, n: r.n, none: r.none, flag: r.flag})",
        {"rows": rows},
    )
    got = falkordb_store.read("MATCH (p:Probe) RETURN p.k AS k, p.n AS n, p.flag AS flag")
    assert got == [{"k": text, "n": 3, "flag": True}]


def test_map_keys_become_bare_identifiers() -> None:
    assert cypher_literal([{"a": "x", "key_2": None, "n": -5}]) == '[{a:"x",key_2:null,n:-5}]'
    # Anything the fast path cannot prove is a key goes through the client's own encoder.
    for value in ({"a": 'say "b": c'}, [{"a": 1}, {"b": 2}], [{"a": {"nested": 1}}]):
        assert cypher_literal(value) == stringify_param_value(value)
