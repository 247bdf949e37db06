"""Which accounts changed since detection last looked, and who may run detection now.

Workers add the accounts of every applied batch to a Redis set; the incremental task drains it.
One lock serialises detection runs, because two runs over overlapping components would race in
the write-back (each retiring the other's rings). Larger deployments partition by component.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import redis

DIRTY = "rw:detect:dirty"
LOCK = "rw:lock:detect"

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class DetectionQueue:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._release = client.register_script(_RELEASE)

    def mark_dirty(self, accounts: Iterable[str]) -> int:
        ids = sorted(set(accounts))
        return int(self._redis.sadd(DIRTY, *ids)) if ids else 0

    def take_dirty(self, limit: int) -> list[str]:
        taken: list[bytes | str] = self._redis.spop(DIRTY, limit) or []  # type: ignore[assignment]
        return sorted(v.decode() if isinstance(v, bytes) else str(v) for v in taken)

    def return_dirty(self, accounts: Iterable[str]) -> None:
        """Put accounts back after a failed run, so no change goes unexamined."""
        self.mark_dirty(accounts)

    def dirty_count(self) -> int:
        return int(self._redis.scard(DIRTY))

    @contextmanager
    def lock(self, ttl_s: int) -> Iterator[bool]:
        """Yields whether this caller holds the lock; the TTL frees it if the holder dies."""
        token = uuid.uuid4().hex
        held = bool(self._redis.set(LOCK, token, nx=True, ex=ttl_s))
        try:
            yield held
        finally:
            if held:
                self._release(keys=[LOCK], args=[token])
