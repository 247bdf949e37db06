"""Send accepted batch ids to the workers in groups, not one message per id.

A decision ingests its context event as a batch of one, and publishing one Celery message per
decision (kombu builds, serialises and pushes each) was the largest single cost of a decision in
the API process. Ids are collected for at most `interval_s` (or until `max_ids`) and sent as one
message. Nothing can be lost in between: a batch is durable in Redis and listed as pending
before its id gets here, and the `ingest.sweep` beat task re-sends pending batches whose message
never went out (a crash, a broker outage), exactly as for a lost single message.

One message carries the batches of many requests, so the request id of each batch travels beside
its id (the message header can hold only one); the task makes it the log context of that batch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ringwatch.logs import request_id

# (batch ids, the request id that accepted each, or None)
Send = Callable[[list[str], list[str | None]], None]

log = logging.getLogger(__name__)


class CoalescingQueue:
    def __init__(
        self,
        send: Send,
        *,
        interval_s: float = 0.05,
        max_ids: int = 200,
    ) -> None:
        if interval_s <= 0 or max_ids < 1:
            raise ValueError("interval_s must be positive and max_ids at least 1")
        self._send = send
        self._interval_s = interval_s
        self._max_ids = max_ids
        self._ids: list[str] = []
        self._request_ids: list[str | None] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="batch-ids", daemon=True)
        self._thread.start()

    def enqueue(self, batch_id: str) -> None:
        with self._lock:
            if self._closed.is_set():
                raise RuntimeError("the queue is closed")
            self._ids.append(batch_id)
            # Read here, in the request's context: the sender thread has none of its own.
            self._request_ids.append(request_id.get())
            full = len(self._ids) >= self._max_ids
        if full:
            self._wake.set()

    def flush(self) -> int:
        """Send what is waiting now; returns how many ids went out."""
        with self._lock:
            ids, self._ids = self._ids, []
            rids, self._request_ids = self._request_ids, []
        sent = 0
        for start in range(0, len(ids), self._max_ids):
            chunk = ids[start : start + self._max_ids]
            try:
                self._send(chunk, rids[start : start + self._max_ids])
                sent += len(chunk)
            except Exception:  # the sweeper re-sends them; a request must not fail for this
                log.warning("%d batch ids not sent; the sweeper will", len(chunk), exc_info=True)
        return sent

    def close(self) -> None:
        """Stop the sender thread and send what is left."""
        self._closed.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.flush()

    def _run(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self._interval_s)
            self._wake.clear()
            self.flush()
