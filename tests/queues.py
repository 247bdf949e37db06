"""Stand-ins for the Celery queue: record batch ids, or apply them at once."""

from __future__ import annotations

from ringwatch.services.ingest import IngestService


class ListQueue:
    """Records batch ids; the test applies them when (and as often as) it wants."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def enqueue(self, batch_id: str) -> None:
        self.ids.append(batch_id)


class ApplyingQueue:
    """Applies each batch at once, as a worker would."""

    def __init__(self, ingest: IngestService) -> None:
        self.ingest = ingest

    def enqueue(self, batch_id: str) -> None:
        self.ingest.apply(batch_id)
