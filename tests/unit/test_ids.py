"""Ids of our own making: unique in a process, across threads and across a fork."""

from __future__ import annotations

import os
import re
import threading

import pytest

from ringwatch.ids import unique_hex
from ringwatch.logs import new_request_id

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def test_ids_have_the_shape_of_uuid4_hex_and_never_repeat() -> None:
    ids = [unique_hex() for _ in range(10_000)]
    assert all(HEX32.match(i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert HEX32.match(new_request_id(None))
    assert new_request_id("caller-id-1") == "caller-id-1"


def test_threads_never_draw_the_same_id() -> None:
    drawn: list[list[str]] = [[] for _ in range(8)]

    def draw(out: list[str]) -> None:
        out.extend(unique_hex() for _ in range(5_000))

    threads = [threading.Thread(target=draw, args=(out,)) for out in drawn]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [i for out in drawn for i in out]
    assert len(set(everything)) == len(everything) == 40_000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    before = unique_hex()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave at once
        os.write(write, unique_hex().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.waitpid(pid, 0)
    os.close(read)
    parent = unique_hex()
    assert HEX32.match(child)
    # Without the reseed the child would count on from the parent's prefix and counter, and its
    # id would equal the parent's next one.
    assert child != parent
    assert child[:16] != before[:16]
