"""The bulk loader waits for its worker processes' replies: a worker that delivered its graph
and exited is done, one that died without replying is an error (not a load that hangs)."""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.queues import Queue
from typing import Any

import pytest

from ringwatch.services.bulk_load import _Results


def _deliver(replies: Queue[Any], index: int, delay_s: float) -> None:
    time.sleep(delay_s)
    replies.put(("graph", -1 - index, f"graph {index}"))


def _die() -> None:
    raise SystemExit(3)


def test_a_worker_that_delivered_and_exited_is_not_a_failure() -> None:
    ctx = multiprocessing.get_context("spawn")
    replies: Queue[Any] = ctx.Queue()
    # The second worker answers after more than one poll interval, while the first has long
    # exited: waiting for it must not count the first as dead.
    procs = [ctx.Process(target=_deliver, args=(replies, i, 2.5 * i)) for i in range(2)]
    for p in procs:
        p.start()
    results = _Results(replies, procs)
    assert results.get(-1) == "graph 0"
    assert results.get(-2) == "graph 1"
    for p in procs:
        p.join()


def test_a_worker_that_died_without_replying_raises() -> None:
    ctx = multiprocessing.get_context("spawn")
    replies: Queue[Any] = ctx.Queue()
    procs = [ctx.Process(target=_die, name="load-dies")]
    procs[0].start()
    with pytest.raises(RuntimeError, match="load-dies"):
        _Results(replies, procs).get(0)
    procs[0].join()
