"""The API's batch-id sender: groups ids, never blocks or fails a request, flushes on close."""

from __future__ import annotations

import threading

import pytest

from ringwatch.logs import request_context
from ringwatch.services.coalescing import CoalescingQueue


class Recorder:
    def __init__(self, fail_first: int = 0) -> None:
        self.sent: list[list[str]] = []
        self.request_ids: list[list[str | None]] = []
        self.fail_first = fail_first
        self.arrived = threading.Event()

    def __call__(self, ids: list[str], request_ids: list[str | None]) -> None:
        if self.fail_first:
            self.fail_first -= 1
            raise ConnectionError("broker down")
        self.sent.append(list(ids))
        self.request_ids.append(list(request_ids))
        self.arrived.set()


def test_ids_within_an_interval_go_out_as_one_message_in_order() -> None:
    sent = Recorder()
    queue = CoalescingQueue(sent, interval_s=0.2, max_ids=100)
    for i in range(30):
        queue.enqueue(f"b{i}")
    assert sent.arrived.wait(2)
    queue.close()
    assert sent.sent == [[f"b{i}" for i in range(30)]]


def test_a_full_group_goes_out_before_the_interval() -> None:
    sent = Recorder()
    queue = CoalescingQueue(sent, interval_s=30, max_ids=5)
    for i in range(5):
        queue.enqueue(f"b{i}")
    assert sent.arrived.wait(5)  # the interval is 30 s: only a full group explains this
    assert sent.sent == [["b0", "b1", "b2", "b3", "b4"]]
    queue.close()


def test_a_failed_send_is_left_to_the_sweeper_and_later_ids_still_go() -> None:
    sent = Recorder(fail_first=1)
    queue = CoalescingQueue(sent, interval_s=30, max_ids=1000)
    queue.enqueue("lost")
    assert queue.flush() == 0  # logged, not raised: the batch is pending in Redis for the sweeper
    queue.enqueue("next")
    assert queue.flush() == 1
    queue.close()
    assert sent.sent == [["next"]]


def test_close_sends_the_rest_and_refuses_more() -> None:
    sent = Recorder()
    queue = CoalescingQueue(sent, interval_s=30, max_ids=1000)
    queue.enqueue("a")
    queue.enqueue("b")
    queue.close()
    assert sent.sent == [["a", "b"]]
    with pytest.raises(RuntimeError):
        queue.enqueue("c")


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        CoalescingQueue(Recorder(), interval_s=0)


def test_each_batch_keeps_the_request_id_that_accepted_it() -> None:
    # The sender thread has no request context; the ids must be read when each batch is queued.
    sent = Recorder()
    queue = CoalescingQueue(sent, interval_s=30, max_ids=1000)
    for rid in ("req-a", "req-b", None):
        with request_context(rid):
            queue.enqueue(f"batch-{rid}")
    queue.close()
    assert sent.sent == [["batch-req-a", "batch-req-b", "batch-None"]]
    assert sent.request_ids == [["req-a", "req-b", None]]
