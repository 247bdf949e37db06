"""`ahead`: GRAPH.BULK commands packed by a thread while the engine runs the previous one must
arrive in order, carry the packer's errors to the sender, and not outlive a sender that stops."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from ringwatch.graph.bulk.falkordb import ahead


def test_items_arrive_in_order_and_are_produced_ahead_of_the_caller() -> None:
    produced: list[int] = []

    def items() -> Iterator[int]:
        for i in range(50):
            produced.append(i)
            yield i

    got = []
    for item in ahead(items(), 2):
        if item == 0:
            deadline = time.monotonic() + 5
            while len(produced) < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            # The first item handed over, two more waiting and one held by the producer.
            assert 3 <= len(produced) <= 4
        got.append(item)
    assert got == list(range(50))


def test_an_error_while_producing_is_raised_where_its_item_would_have_come() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("a row the format cannot hold")

    got = []
    with pytest.raises(ValueError, match="cannot hold"):
        for item in ahead(items(), 4):
            got.append(item)
    assert got == [1, 2]


def test_a_caller_that_stops_early_stops_the_producer() -> None:
    produced: list[int] = []

    def items() -> Iterator[int]:
        for i in range(10_000):
            produced.append(i)
            yield i

    before = threading.active_count()
    with pytest.raises(ConnectionError):
        for item in ahead(items(), 2):
            if item == 5:
                raise ConnectionError("the engine went away")
    assert threading.active_count() == before
    assert len(produced) < 20
