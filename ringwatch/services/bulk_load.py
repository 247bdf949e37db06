"""`ringwatch load`: a first load of a whole history into an empty store with the engine's own
bulk tool, leaving the graph and the dedupe state exactly as `ringwatch ingest` would.

Events go through ingest's own steps, chunk by chunk under ingest's batch ids
(`file:<digest>:<n>`, the same `batch_size`): `IngestService.validate` (schema, normalisation,
pseudonymisation) and `Intake.accept` (the event-id claims in Redis). The fresh records are
folded into final nodes and edges (`graph.bulk.graph.BulkGraph`) together with a `Batch` marker
per chunk, and the engine loads them in one go. Afterwards `ringwatch ingest` of the same files
skips every batch as applied, the same events in other files are duplicates by their claims, and
new events are applied on top as usual. A load interrupted before the engine step claimed its
events under those batch ids, and a claim stays its batch's: rerunning the load (or ingesting
the files) keeps them instead of calling them duplicates.
"""

from __future__ import annotations

import gc
import multiprocessing
import queue
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

from ringwatch.errors import Conflict, Invalid, Problem
from ringwatch.event_files import file_digest, read_raw_events
from ringwatch.graph.bulk.graph import BulkGraph
from ringwatch.graph.bulk.targets import BulkTarget, node_count, timed_schema
from ringwatch.graph.store import GraphStore
from ringwatch.identity import Pseudonymiser
from ringwatch.records import Record
from ringwatch.services.ingest import (
    IngestReport,
    IngestService,
    Validated,
    cyclic_gc_paused,
    validate_events,
)

Stage = Callable[[str], None]


@dataclass
class LoadReport(IngestReport):
    nodes: int = 0
    edges: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


class BulkLoadService:
    def __init__(
        self,
        store: GraphStore,
        ingest: IngestService,
        target: BulkTarget,
    ) -> None:
        # The same store goes on after the engine step: a Neo4j driver reconnects to the
        # restarted server by itself.
        self.store = store
        self.ingest = ingest
        self.target = target

    def load(
        self,
        paths: Sequence[Path],
        *,
        rejects: Callable[[Path, Problem], None] | None = None,
        progress: Callable[[int], None] | None = None,
        stage: Stage | None = None,
        normalisers: int = 0,
    ) -> LoadReport:
        """With `normalisers` > 0, that many processes decode, validate, pseudonymise and fold
        chunks while this one reads and claims them, in file order: the same batch ids, claims
        and graph as with none (`_load_in_workers`)."""
        if normalisers < 0:
            raise ValueError("normalisers must be at least 0")
        # The load holds millions of acyclic containers (the workers' graphs as they are
        # unpickled, the merge, the tables) and the collector would walk them again and again:
        # with it on, unpickling a 100k world's graph took 2.6-3.1 s instead of 1.2.
        with cyclic_gc_paused():
            return self._load(paths, rejects, progress, stage, normalisers)

    def _load(
        self,
        paths: Sequence[Path],
        rejects: Callable[[Path, Problem], None] | None,
        progress: Callable[[int], None] | None,
        stage: Stage | None,
        normalisers: int,
    ) -> LoadReport:

        def say(name: str) -> None:
            if stage:
                stage(name)

        self._refuse_if_not_empty()
        report = LoadReport()
        graph = BulkGraph()
        now = int(time.time() * 1000)
        seconds = report.seconds
        say("validate and claim")
        if normalisers:
            graph = self._load_in_workers(paths, normalisers, report, now, rejects, progress)
        else:
            for path in paths:
                started = time.perf_counter()
                digest = file_digest(path)
                _add(seconds, "digest", started)
                for number, lines, (records, problems) in self._validated(path, seconds):
                    started = time.perf_counter()
                    batch_id = f"file:{digest}:{number}"
                    fresh, _ = self._claim(batch_id, records, problems, report, path, rejects)
                    claimed_at = time.perf_counter()
                    graph.add_batch(batch_id, fresh, now)
                    _add(seconds, "claim", started, claimed_at)
                    _add(seconds, "fold", claimed_at)
                    if progress:
                        progress(lines)
        say("build tables")
        started = time.perf_counter()
        tables = graph.tables()
        del graph
        seconds["build tables"] = time.perf_counter() - started
        report.nodes, report.edges = tables.node_count, tables.edge_count
        if report.nodes:
            # Again: the store must still be empty now that the engine step replaces it.
            self._refuse_if_not_empty()
            seconds.update(self.target.load(tables, say, self.store.ensure_schema))
        else:
            timed_schema(self.store.ensure_schema, say, seconds)
        del tables
        loaded = node_count(self.store)
        if loaded != report.nodes:
            raise Invalid(
                f"the {self.store.engine} store holds {loaded:,} nodes after the load, "
                f"expected {report.nodes:,}"
            )
        return report

    def _claim(
        self,
        batch_id: str,
        records: Sequence[Mapping[str, Any]],
        problems: list[Problem],
        report: LoadReport,
        path: Path,
        rejects: Callable[[Path, Problem], None] | None,
    ) -> tuple[list[Mapping[str, Any]], set[int]]:
        """Claim a chunk's event ids under its batch id: (fresh records in order, indexes of
        the duplicates)."""
        claimed = self.ingest.intake.accept(batch_id, records, keep_payload=False)
        dupes = set(claimed.duplicate_indexes)
        fresh = [r for i, r in enumerate(records) if i not in dupes] if dupes else list(records)
        for problem in problems:
            if rejects:
                rejects(path, problem)
        report.rejected.extend(problems)
        report.duplicates += len(dupes)
        report.accepted += len(fresh)
        if fresh:
            report.batches.append(batch_id)
        return fresh, dupes

    def _validated(
        self, path: Path, seconds: dict[str, float]
    ) -> Iterator[tuple[int, int, Validated]]:
        """(batch number, lines, validated chunk) in file order, validated in this process."""
        started = time.perf_counter()
        for number, chunk in enumerate(_chunks(read_raw_events(path), self.ingest.batch_size)):
            work = self.ingest.validate(chunk)
            _add(seconds, "read and validate", started)
            yield number, len(chunk), work
            started = time.perf_counter()

    def _load_in_workers(
        self,
        paths: Sequence[Path],
        workers: int,
        report: LoadReport,
        now: int,
        rejects: Callable[[Path, Problem], None] | None,
        progress: Callable[[int], None] | None,
    ) -> BulkGraph:
        """Validate AND fold in `workers` processes; this one reads, claims and merges.

        Chunk k goes to worker k mod n, which validates it, keeps its records and sends back
        only what the claim needs (event id and time per record, the rejections). This process
        claims the chunk under its batch id, in file order as without workers, and tells the
        worker which indexes were duplicates; the worker folds the rest into its own graph
        under the chunk's global position. At the end the workers' graphs are merged: every
        fold rule commutes, and enforcement is replayed by batch position. A profile of the
        single-process path had this process spending as much on folding and on receiving
        the records as a worker on validating them, so both moved to the workers.
        """
        seconds = report.seconds
        ctx = multiprocessing.get_context("spawn")
        results: Queue[Any] = ctx.Queue()
        inboxes: list[Queue[Any]] = [ctx.Queue() for _ in range(workers)]
        procs = [
            ctx.Process(
                target=fold_worker,
                args=(self.ingest.hasher.key, inboxes[i], results, i),
                daemon=True,
                name=f"ringwatch-load-{i}",
            )
            for i in range(workers)
        ]
        for proc in procs:
            proc.start()
        result = _Results(results, procs)

        def settle(position: int, path: Path, batch_id: str, lines: int) -> None:
            started = time.perf_counter()
            claims, problems = result.get(position)
            claimed_at = time.perf_counter()
            records = [{"id": event_id, "ts": ts} for event_id, ts in claims]
            _, dupes = self._claim(batch_id, records, problems, report, path, rejects)
            inboxes[position % workers].put(("fold", position, batch_id, sorted(dupes), now))
            _add(seconds, "read and validate", started, claimed_at)
            _add(seconds, "claim", claimed_at)
            if progress:
                progress(lines)

        try:
            pending: deque[tuple[int, Path, str, int]] = deque()
            position = 0
            for path in paths:
                started = time.perf_counter()
                digest = file_digest(path)
                _add(seconds, "digest", started)
                for number, chunk in enumerate(
                    _chunks(read_raw_events(path), self.ingest.batch_size)
                ):
                    inboxes[position % workers].put(("validate", position, chunk))
                    pending.append((position, path, f"file:{digest}:{number}", len(chunk)))
                    position += 1
                    while len(pending) > 2 * workers:
                        settle(*pending.popleft())
            while pending:
                settle(*pending.popleft())
            started = time.perf_counter()
            for inbox in inboxes:
                inbox.put(("finish",))
            graph: BulkGraph = result.get(-1)
            for i in range(1, workers):
                graph.merge(result.get(-1 - i))
            _add(seconds, "fold (workers' graphs received and merged)", started)
            for proc in procs:
                proc.join()
            return graph
        finally:
            for inbox in inboxes:
                # After a failure, chunks still buffered for a killed worker must not keep
                # this process from exiting.
                inbox.cancel_join_thread()
            for proc in procs:
                if proc.is_alive():
                    proc.kill()
                    proc.join()

    def _refuse_if_not_empty(self) -> None:
        existing = node_count(self.store)
        if existing:
            raise Conflict(
                f"the {self.store.engine} store already holds {existing:,} nodes; `ringwatch "
                "load` builds a store from nothing. Use `ringwatch ingest` to add events to it, "
                "or clear it first.",
                [Problem(field="store", reason=f"not empty ({existing:,} nodes)")],
            )


class _Results:
    """The workers' replies, by position (a validated chunk: its position; a worker's graph:
    -1 - its index), whatever order they arrive in; a worker that died without an answer
    raises instead of leaving the load waiting forever."""

    def __init__(self, replies: Queue[Any], procs: Sequence[multiprocessing.process.BaseProcess]):
        self.replies = replies
        self.procs = procs
        self.early: dict[int, Any] = {}
        # Workers whose graph arrived: they exit then, which is not a failure while this
        # process still waits for the others' graphs.
        self.delivered: set[int] = set()

    def get(self, position: int) -> Any:
        early = self.early
        while position not in early:
            try:
                got = self.replies.get(timeout=1.0)
            except queue.Empty:
                dead = [
                    p.name
                    for i, p in enumerate(self.procs)
                    if i not in self.delivered and not p.is_alive()
                ]
                if dead:
                    raise RuntimeError(f"load worker(s) {dead} exited") from None
                continue
            if got[0] == "error":
                raise RuntimeError(f"load worker {got[1]} failed:\n{got[2]}")
            if got[0] == "graph":
                self.delivered.add(-1 - got[1])
            early[got[1]] = got[2]
        return early.pop(position)


def fold_worker(key: bytes, inbox: Queue[Any], results: Queue[Any], index: int) -> None:
    """A load worker (see `BulkLoadService._load_in_workers`): validates the chunks it is sent,
    keeps their records until the parent has claimed them, folds the fresh ones, and sends
    its graph when told to finish."""
    # No cyclic collection for the worker's whole life: it builds only acyclic containers
    # (records, the fold's lists and dicts), freed by reference counting, and lives for one
    # load. Paused per chunk only, the collector ran once after each chunk over every record
    # the chunk had made: 9% of a worker's CPU (py-spy, docs/performance.md).
    gc.disable()
    hasher = Pseudonymiser(key)
    graph = BulkGraph()
    kept: dict[int, list[Record]] = {}
    try:
        while True:
            message = inbox.get()
            if message[0] == "validate":
                _, position, chunk = message
                records, problems = validate_events(chunk, hasher)
                kept[position] = records
                claims = [(r["id"], r["ts"]) for r in records]
                results.put(("validated", position, (claims, problems)))
            elif message[0] == "fold":
                _, position, batch_id, dupes, applied_at = message
                records = kept.pop(position)
                if dupes:
                    skip = set(dupes)
                    records = [r for i, r in enumerate(records) if i not in skip]
                graph.add_batch(batch_id, records, applied_at, position)
            else:
                results.put(("graph", -1 - index, graph))
                return
    except BaseException:
        results.put(("error", index, traceback.format_exc()))
        raise


def _chunks(items: Iterator[tuple[int, Any]], size: int) -> Iterator[list[tuple[int, Any]]]:
    while chunk := list(islice(items, size)):
        yield chunk


def _add(
    seconds: dict[str, float], name: str, started: float, until: float | None = None
) -> None:
    end = time.perf_counter() if until is None else until
    seconds[name] = seconds.get(name, 0.0) + end - started
