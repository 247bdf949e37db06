"""The verdict feed on both engines: a replay from any cursor sees each change once, in order."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from ringwatch.errors import Invalid
from ringwatch.graph.store import GraphStore
from ringwatch.identity import Pseudonymiser
from ringwatch.services.changes import change
from ringwatch.services.detection import DetectionService
from ringwatch.services.feed import decode_cursor, encode_cursor, verdicts_page
from tests.services.histories import ingest, record, world

pytestmark = pytest.mark.embedded

T0 = 1_780_000_000_000  # epoch ms


def sample_changes(store: GraphStore) -> None:
    """Three batches of different sizes, as three detection steps would write them."""
    record(
        store,
        "run-a",
        [change("created", "ring", "ring_a", {"verdict": "fraud", "size": 4})]
        + [change("escalated", "account", f"acc{i}", {"risk": 0.9}) for i in range(4)],
        T0,
    )
    record(store, "run-b", [change("merged", "ring", "ring_a", {"into": "ring_a"})], T0 + 1000)
    record(
        store,
        "run-c",
        [change("cleared", "account", f"acc{i}", {"risk": 0.1, "was": 0.9}) for i in range(3)]
        + [change("downgraded", "ring", "ring_a", {"verdict": "suspicious", "was": "fraud"})],
        T0 + 2000,
    )


def read_all(store: GraphStore, cursor: str, limit: int) -> tuple[list[dict[str, Any]], str]:
    """Poll until a page comes back empty, as a consumer would; returns items and final cursor."""
    items: list[dict[str, Any]] = []
    while True:
        page = verdicts_page(store, cursor, limit)
        assert page["next_cursor"], "a cursor is always returned"
        if not page["items"]:
            if cursor:
                assert page["next_cursor"] == cursor
            return items, page["next_cursor"]
        items += page["items"]
        cursor = page["next_cursor"]


def test_replay_from_every_cursor_sees_each_change_once_in_order(store: GraphStore) -> None:
    sample_changes(store)
    full, end = read_all(store, "", 1000)
    assert [c["seq"] for c in full] == list(range(1, 11))
    assert full[0] == {
        "seq": 1,
        "kind": "created",
        "subject": "ring",
        "subject_id": "ring_a",
        "at": "2026-05-28T20:26:40.000Z",
        "run": "run-a",
        "detail": {"verdict": "fraud", "size": 4},
    }
    assert full[5]["kind"] == "merged" and full[5]["at"].endswith("41.000Z")

    for limit in (1, 2, 3, 4, 7, 1000):
        # Walk the log page by page, remembering every cursor handed out and how far it reached.
        cursor, seen, cursors = "", 0, [("", 0)]
        while (page := verdicts_page(store, cursor, limit))["items"]:
            seen += len(page["items"])
            cursor = page["next_cursor"]
            cursors.append((cursor, seen))
        assert seen == len(full)
        for position, (saved, before) in enumerate(cursors):
            # A consumer restarting from any saved cursor, with any page size, gets exactly the
            # rest of the log.
            restart_limit = (1, 3, 1000)[position % 3]
            rest, _ = read_all(store, saved, restart_limit)
            assert full[:before] + rest == full

    # Polling from the end: nothing, the same cursor back; new changes arrive exactly once.
    assert verdicts_page(store, end, 5) == {"items": [], "next_cursor": end}
    record(store, "run-d", [change("cleared", "ring", "ring_a", {"was": "suspicious"})], T0 + 3000)
    later, end2 = read_all(store, end, 5)
    assert [(c["seq"], c["kind"]) for c in later] == [(11, "cleared")]
    assert read_all(store, end2, 5) == ([], end2)


def test_feed_of_a_detection_run(store: GraphStore, hasher: Pseudonymiser) -> None:
    ingest(store, hasher, "b1", world())
    DetectionService(store, seed=3).run_full()
    logged = store.changes_page(0, 1000)
    assert logged
    for limit in (1, 5, 1000):
        items, _ = read_all(store, "", limit)
        assert [c["seq"] for c in items] == [int(r["seq"]) for r in logged]
    created = [c for c in items if c["subject"] == "ring" and c["kind"] == "created"]
    assert created and created[0]["detail"]["verdict"] in {"fraud", "suspicious"}


def test_cursor_round_trip_and_shape() -> None:
    for seq in (0, 1, 99, 2**40):
        cursor = encode_cursor(seq)
        assert decode_cursor(cursor) == seq
        assert "=" not in cursor and "+" not in cursor and "/" not in cursor
    assert decode_cursor("") == 0
    assert decode_cursor(None) == 0


def _b64(doc: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(doc)).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!not-base64",
        "12",
        base64.urlsafe_b64encode(b"not json").decode(),
        _b64([1, 2]),
        _b64({"seq": 5}),
        _b64({"v": 2, "seq": 5}),
        _b64({"v": 1, "seq": -1}),
        _b64({"v": 1, "seq": "5"}),
        _b64({"v": 1, "seq": True}),
        "A" * 500,
    ],
)
def test_malformed_cursor_is_invalid_naming_the_field(cursor: str) -> None:
    with pytest.raises(Invalid) as caught:
        decode_cursor(cursor)
    assert [p.field for p in caught.value.problems] == ["after"]
