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

import contextlib
import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from ringwatch.errors import Conflict, Invalid, Problem
from ringwatch.event_files import file_digest, read_raw_events
from ringwatch.graph.bulk.graph import BulkGraph
from ringwatch.graph.bulk.targets import BulkTarget, node_count
from ringwatch.graph.store import GraphStore
from ringwatch.services.ingest import (
    IngestReport,
    IngestService,
    Validated,
    normalise_chunk,
    start_normaliser,
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
        """With `normalisers` > 0, that many processes decode, validate and pseudonymise chunks
        ahead while this one claims and folds them, in file order (the same batch ids, claims
        and fold as with none)."""
        if normalisers < 0:
            raise ValueError("normalisers must be at least 0")

        def say(name: str) -> None:
            if stage:
                stage(name)

        self._refuse_if_not_empty()
        report = LoadReport()
        graph = BulkGraph()
        now = int(time.time() * 1000)
        seconds = report.seconds
        say("validate and claim")
        with contextlib.ExitStack() as stack:
            procs = None
            if normalisers:
                procs = stack.enter_context(
                    ProcessPoolExecutor(
                        max_workers=normalisers,
                        mp_context=multiprocessing.get_context("spawn"),
                        initializer=start_normaliser,
                        initargs=(self.ingest.hasher.key,),
                    )
                )
            for path in paths:
                started = time.perf_counter()
                digest = file_digest(path)
                seconds["digest"] = seconds.get("digest", 0.0) + time.perf_counter() - started
                for number, lines, (records, problems) in self._validated(
                    path, procs, normalisers, seconds
                ):
                    started = time.perf_counter()
                    batch_id = f"file:{digest}:{number}"
                    claimed = self.ingest.intake.accept(batch_id, records, keep_payload=False)
                    dupes = set(claimed.duplicate_indexes)
                    fresh = (
                        [r for i, r in enumerate(records) if i not in dupes] if dupes else records
                    )
                    claimed_at = time.perf_counter()
                    graph.add_batch(batch_id, fresh, now)
                    done = time.perf_counter()
                    seconds["claim"] = seconds.get("claim", 0.0) + claimed_at - started
                    seconds["fold"] = seconds.get("fold", 0.0) + done - claimed_at
                    for problem in problems:
                        if rejects:
                            rejects(path, problem)
                    report.rejected.extend(problems)
                    report.duplicates += len(dupes)
                    report.accepted += len(fresh)
                    if fresh:
                        report.batches.append(batch_id)
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
            seconds.update(self.target.load(tables, say))
        del tables
        say("schema")
        started = time.perf_counter()
        self.store.ensure_schema()
        seconds["schema"] = time.perf_counter() - started
        loaded = node_count(self.store)
        if loaded != report.nodes:
            raise Invalid(
                f"the {self.store.engine} store holds {loaded:,} nodes after the load, "
                f"expected {report.nodes:,}"
            )
        return report

    def _validated(
        self,
        path: Path,
        procs: ProcessPoolExecutor | None,
        workers: int,
        seconds: dict[str, float],
    ) -> Iterator[tuple[int, int, Validated]]:
        """(batch number, lines, validated chunk) in file order. In this process, or with
        `procs`, up to two chunks per process validated ahead; the time this process spends
        reading, validating or waiting for a result counts as "read and validate"."""
        size = self.ingest.batch_size
        items = read_raw_events(path)

        def chunks() -> Iterator[list[tuple[int, Any]]]:
            while chunk := list(islice(items, size)):
                yield chunk

        started = time.perf_counter()
        if procs is None:
            for number, chunk in enumerate(chunks()):
                work = self.ingest.validate(chunk)
                _add(seconds, "read and validate", started)
                yield number, len(chunk), work
                started = time.perf_counter()
            return
        ahead: deque[tuple[int, int, Future[Validated]]] = deque()
        for number, chunk in enumerate(chunks()):
            ahead.append((number, len(chunk), procs.submit(normalise_chunk, chunk)))
            while len(ahead) > 2 * workers:
                n, lines, job = ahead.popleft()
                work = job.result()
                _add(seconds, "read and validate", started)
                yield n, lines, work
                started = time.perf_counter()
        while ahead:
            n, lines, job = ahead.popleft()
            work = job.result()
            _add(seconds, "read and validate", started)
            yield n, lines, work
            started = time.perf_counter()

    def _refuse_if_not_empty(self) -> None:
        existing = node_count(self.store)
        if existing:
            raise Conflict(
                f"the {self.store.engine} store already holds {existing:,} nodes; `ringwatch "
                "load` builds a store from nothing. Use `ringwatch ingest` to add events to it, "
                "or clear it first.",
                [Problem(field="store", reason=f"not empty ({existing:,} nodes)")],
            )


def _add(seconds: dict[str, float], name: str, started: float) -> None:
    seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started
