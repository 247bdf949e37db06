"""Validate -> normalise -> accept durably -> apply to the graph exactly once.

The API accepts into Redis and lets workers apply; `ringwatch ingest` applies directly. Both use
the same validation, the same batches and the same exactly-once apply, so their graphs agree.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Protocol

import orjson
from pydantic import ValidationError

from ringwatch.errors import Problem
from ringwatch.event_files import LineError, decode_event, file_digest, read_raw_events
from ringwatch.events import parse_event, problems_of
from ringwatch.graph.store import ApplyResult, Batch, GraphStore
from ringwatch.identity import Pseudonymiser
from ringwatch.ids import unique_hex
from ringwatch.records import FieldError, Record, normalise
from ringwatch.services.intake import Commands, Counters, Gate, Intake
from ringwatch.services.velocity import Velocity


class BatchQueue(Protocol):
    """Where accepted batch ids go to be applied (Celery in production, inline in tests)."""

    def enqueue(self, batch_id: str) -> None: ...


@dataclass
class IngestReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Problem] = field(default_factory=list)
    batches: list[str] = field(default_factory=list)
    skipped_batches: int = 0

    def merge(self, other: IngestReport) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)
        self.batches.extend(other.batches)
        self.skipped_batches += other.skipped_batches


@dataclass(frozen=True)
class Staged:
    """A context event's acceptance queued on a caller's pipeline (`IngestService.stage`)."""

    batch_id: str
    position: int  # of its answer among the pipeline's


class IngestService:
    def __init__(
        self,
        store: GraphStore,
        intake: Intake,
        hasher: Pseudonymiser,
        batch_size: int,
        velocity: Velocity | None = None,
    ) -> None:
        self.store = store
        self.intake = intake
        self.hasher = hasher
        self.batch_size = batch_size
        self.velocity = velocity

    # -- validation --------------------------------------------------------------------------
    def validate(self, raw_events: Iterable[tuple[int, Any]]) -> tuple[list[Record], list[Problem]]:
        return validate_events(raw_events, self.hasher)

    # -- the API path: accept now, apply in a worker -------------------------------------------
    def accept(self, items: Sequence[tuple[int, Any]], queue: BatchQueue) -> IngestReport:
        """Accept (index, raw event) items; invalid ones come back as rejections by index."""
        records, problems = self.validate(items)
        report = self.accept_records(records, queue)
        report.rejected = problems
        return report

    def accept_records(self, records: Sequence[Record], queue: BatchQueue) -> IngestReport:
        """Accept records already validated and normalised."""
        report = IngestReport()
        for chunk in _chunks(records, self.batch_size):
            batch_id = "api:" + unique_hex()
            result = self.intake.accept(batch_id, chunk, counters=self._counters(chunk))
            report.accepted += result.accepted
            report.duplicates += len(result.duplicate_indexes)
            if result.accepted:
                report.batches.append(batch_id)
        # Sent only now that every batch is durable in Redis: a worker never looks for a batch
        # that is not there yet, and a crash before this line is caught by the sweeper.
        for batch_id in report.batches:
            queue.enqueue(batch_id)
        return report

    def stage(self, record: Record, pipe: Commands, gate: Gate | None = None) -> Staged:
        """Queue the acceptance of a decision's context event (already validated and
        normalised) on `pipe`, a pipeline without transaction that the caller sends with its
        own reads: one round trip. Then `finish` with the answer at the position it had.
        `gate`: accepted only if the gate's check passes (`Intake.accept_on`); the caller
        puts the acceptance's own answer at that position before `finish`."""
        staged = Staged("api:" + unique_hex(), len(pipe))
        self.intake.accept_on(
            pipe, staged.batch_id, [record], counters=self._counters([record]), gate=gate
        )
        return staged

    def finish(self, staged: Staged, answers: Sequence[Any], queue: BatchQueue) -> IngestReport:
        result = self.intake.accepted(staged.batch_id, 1, answers[staged.position])
        report = IngestReport(result.accepted, len(result.duplicate_indexes))
        if result.accepted:
            report.batches.append(staged.batch_id)
            queue.enqueue(staged.batch_id)  # durable now: the pipeline has been answered
        return report

    def _counters(self, records: Sequence[Record]) -> Counters | None:
        # Counted at acceptance (decisions must see a burst while it happens), by the intake
        # script, and only for events not seen before, so a replay does not inflate it.
        return None if self.velocity is None else self.velocity.counters(records, time.time())

    def apply(self, batch_id: str) -> ApplyResult | None:
        """Apply one accepted batch; None when it was already applied and cleaned up."""
        records = self.intake.load(batch_id)
        if records is None:
            return None
        result = self.store.apply_batch(Batch(batch_id, records))
        self.intake.complete(batch_id)
        return result

    def overdue(self, older_than_s: float) -> list[str]:
        return self.intake.overdue(older_than_s)

    # -- the direct path: files ---------------------------------------------------------------
    def ingest_file(
        self,
        path: Path,
        *,
        rejects: Callable[[Path, Problem], None] | None = None,
        progress: Callable[[int], None] | None = None,
        writers: int = 1,
        normalisers: int = 0,
        group: int = 1,
    ) -> IngestReport:
        """Apply a file batch by batch. Batch ids derive from the file's content and position,
        so a run that was interrupted resumes where it stopped and never applies a batch twice.

        Graph writes overlap the validation of the next batch, and `writers` batches may be in
        the database at once: one Neo4j transaction runs on one core, so a second writer is what
        lets a multi-core server work in parallel. Batches commute (counts add, times take their
        min or max, the newest profile and enforcement win), so their commit order does not
        matter, exactly as with concurrent Celery workers.

        With `normalisers` > 0, that many processes decode, validate and pseudonymise batches
        ahead (the profile's largest cost, all Python) while this one claims and writes. Claims
        and writes stay here, in file order, so exactly-once is the same code either way.

        With `group` > 1, batches that wait while every writer is busy go as one write of up to
        `group` batches (`GraphStore.apply_batches`): fewer, larger statements for the engine,
        each batch still with its own id and marker, so resuming skips exactly the batches
        written, whatever the grouping of the run that was interrupted.
        """
        if writers < 1:
            raise ValueError("writers must be at least 1")
        if normalisers < 0:
            raise ValueError("normalisers must be at least 0")
        if group < 1:
            raise ValueError("group must be at least 1")
        digest = file_digest(path)
        report = IngestReport()
        with contextlib.ExitStack() as stack:
            pool = stack.enter_context(
                ThreadPoolExecutor(max_workers=writers, thread_name_prefix="graph-write")
            )
            validated = self._validated(stack, digest, read_raw_events(path), normalisers)
            in_flight: deque[Future[list[int]]] = deque()
            waiting: list[tuple[Batch, int]] = []

            def send(batches: list[tuple[Batch, int]]) -> None:
                while len(in_flight) >= writers:
                    _finish(in_flight.popleft(), progress)
                in_flight.append(pool.submit(self._write, batches))

            for number, lines, work in validated:
                batch_id = f"file:{digest}:{number}"
                if work is None:
                    report.skipped_batches += 1
                    fresh: list[Record] = []
                else:
                    fresh = self._claim_chunk(batch_id, work, report, path, rejects)
                if not fresh:
                    if progress:
                        progress(lines)
                    continue
                waiting.append((Batch(batch_id, fresh), lines))
                while in_flight and in_flight[0].done():
                    _finish(in_flight.popleft(), progress)
                if len(in_flight) < writers or len(waiting) >= group:
                    send(waiting)
                    waiting = []
            if waiting:
                send(waiting)
            while in_flight:
                _finish(in_flight.popleft(), progress)
        return report

    def _validated(
        self,
        stack: contextlib.ExitStack,
        digest: str,
        items: Iterator[tuple[int, Any]],
        normalisers: int,
    ) -> Iterator[tuple[int, int, Validated | None]]:
        """(batch number, lines, validated batch or None when it was applied before), in file
        order; with normalisers, up to two batches per process are being validated ahead."""

        def applied(number: int) -> bool:
            return self.store.batch_applied(f"file:{digest}:{number}")

        chunks = enumerate(_chunks_iter(items, self.batch_size))
        if normalisers == 0:
            for number, chunk in chunks:
                done = applied(number)
                yield number, len(chunk), None if done else self.validate(chunk)
            return
        procs = stack.enter_context(
            ProcessPoolExecutor(
                max_workers=normalisers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=start_normaliser,
                initargs=(self.hasher.key,),
            )
        )
        ahead: deque[tuple[int, int, Future[Validated] | None]] = deque()
        for number, chunk in chunks:
            job = None if applied(number) else procs.submit(normalise_chunk, chunk)
            ahead.append((number, len(chunk), job))
            while len(ahead) > 2 * normalisers:
                n, lines, f = ahead.popleft()
                yield n, lines, None if f is None else f.result()
        while ahead:
            n, lines, f = ahead.popleft()
            yield n, lines, None if f is None else f.result()

    def _claim_chunk(
        self,
        batch_id: str,
        work: Validated,
        report: IngestReport,
        path: Path,
        rejects: Callable[[Path, Problem], None] | None,
    ) -> list[Record]:
        records, problems = work
        for problem in problems:
            if rejects:
                rejects(path, problem)
        report.rejected.extend(problems)
        result = self.intake.accept(batch_id, records, keep_payload=False)
        dupes = set(result.duplicate_indexes)
        fresh = [r for i, r in enumerate(records) if i not in dupes]
        report.duplicates += len(dupes)
        report.accepted += len(fresh)
        if fresh:
            report.batches.append(batch_id)
        return fresh

    def _write(self, batches: list[tuple[Batch, int]]) -> list[int]:
        if len(batches) == 1:
            self.store.apply_batch(batches[0][0])
        else:
            self.store.apply_batches([batch for batch, _ in batches])
        return [lines for _, lines in batches]


Validated = tuple[list[Record], list[Problem]]


def validate_events(raw_events: Iterable[tuple[int, Any]], hasher: Pseudonymiser) -> Validated:
    # Validation allocates ~40 containers per event (models, records, their lists), none of
    # them in a cycle: with the cyclic collector on, its collections took 30% of the CPU of
    # validating a 1M-world slice (docs/performance.md, "Validation per event"). Reference
    # counting frees all of it; any cycle made meanwhile is collected after the chunk.
    with cyclic_gc_paused():
        return _validate_events(raw_events, hasher)


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """The cyclic collector off meanwhile, for work that makes many containers and no cycles
    (reference counting frees them); a cycle made meanwhile is collected after."""
    if not gc.isenabled():  # already paused (another thread's chunk, or the caller's choice)
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _validate_events(raw_events: Iterable[tuple[int, Any]], hasher: Pseudonymiser) -> Validated:
    records: list[Record] = []
    problems: list[Problem] = []
    for index, item in raw_events:
        raw = decode_event(item)
        if isinstance(raw, LineError):
            problems.append(Problem(index=index, field="event", reason=str(raw)))
            continue
        if not isinstance(raw, dict):
            problems.append(Problem(index=index, field="event", reason="expected a JSON object"))
            continue
        try:
            records.append(normalise(parse_event(raw), hasher))
        except ValidationError as e:
            problems.extend(problems_of(e, index))
        except FieldError as e:
            problems.append(Problem(index=index, field=e.field, reason=e.reason))
    return records, problems


_HASHER: Pseudonymiser | None = None


def start_normaliser(key: bytes) -> None:
    global _HASHER
    _HASHER = Pseudonymiser(key)


def normalise_chunk(chunk: list[tuple[int, Any]]) -> Validated:
    if _HASHER is None:
        raise RuntimeError("normaliser process started without its key")
    return validate_events(chunk, _HASHER)


def _finish(write: Future[list[int]], progress: Callable[[int], None] | None) -> None:
    lines = write.result()  # re-raises a failed write here, in the caller's thread
    if progress:
        for n in lines:
            progress(n)


def _chunks(items: Sequence[Record], size: int) -> Iterator[list[Record]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _chunks_iter(items: Iterator[tuple[int, Any]], size: int) -> Iterator[list[tuple[int, Any]]]:
    while chunk := list(islice(items, size)):
        yield chunk


def problem_json(path: Path, problem: Problem) -> bytes:
    return orjson.dumps(
        {"file": str(path), "line": problem.index, "field": problem.field, "reason": problem.reason}
    )
