"""Neo4jStore.read keeps what a read transaction promised when it moved to an auto-commit
transaction (RUN and PULL in one round trip): the read-only access mode, the store's read
timeout, and the driver's retries of a read that failed on the way."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from neo4j.exceptions import ClientError, ServiceUnavailable

from ringwatch.errors import Unavailable
from ringwatch.graph import neo4j_store
from ringwatch.graph.neo4j_store import Neo4jStore
from tests.conftest import NEO4J_PASSWORD, NEO4J_URI, _missing

pytestmark = pytest.mark.neo4j

# Far more rows than 0.5 s of a server's work, and no index or cache can shortcut a filter
# that keeps none of them.
SLOW = "UNWIND range(1, $n) AS x WITH x WHERE x < 0 RETURN count(x) AS n"


@pytest.fixture
def store() -> Iterator[Neo4jStore]:
    if not NEO4J_URI:
        _missing("Neo4j")
    s = Neo4jStore(str(NEO4J_URI), "neo4j", NEO4J_PASSWORD, read_timeout_s=0.5)
    yield s
    s.close()


def test_read_returns_rows_as_dicts(store: Neo4jStore) -> None:
    assert store.read("UNWIND $xs AS x RETURN x, x * 2 AS y", {"xs": [1, 2]}) == [
        {"x": 1, "y": 2},
        {"x": 2, "y": 4},
    ]


def test_read_refuses_a_write(store: Neo4jStore) -> None:
    marker = f"read-{uuid.uuid4().hex}"
    with pytest.raises(ClientError) as refused:
        store.read("CREATE (n:ReadProbe {id: $id}) RETURN n.id AS id", {"id": marker})
    assert "AccessMode" in (refused.value.code or "")
    assert store.read("MATCH (n:ReadProbe {id: $id}) RETURN n.id AS id", {"id": marker}) == []


def test_read_stops_at_the_store_read_timeout(store: Neo4jStore) -> None:
    with pytest.raises(ClientError) as stopped:
        store.read(SLOW, {"n": 10**10})
    assert "TransactionTimedOut" in (stopped.value.code or "")


def test_read_retries_a_lost_connection_then_answers(
    store: Neo4jStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first session's connection is lost before the answer (as when the server restarts
    # under a pooled connection); the read is idempotent, so it is sent again.
    real_session = store._driver.session
    attempts: list[int] = []

    def flaky_session(**kwargs: Any) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise ServiceUnavailable("connection lost")
        return real_session(**kwargs)

    monkeypatch.setattr(store._driver, "session", flaky_session)
    assert store.read("RETURN $x AS x", {"x": 7}) == [{"x": 7}]
    assert len(attempts) == 2


def test_read_of_an_unreachable_server_gives_up_as_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(neo4j_store, "READ_RETRY_S", 0.5)
    # A port nothing listens on: every attempt is refused at once.
    s = Neo4jStore("bolt://127.0.0.1:1", "neo4j", NEO4J_PASSWORD)
    real_session = s._driver.session
    attempts: list[int] = []

    def counted_session(**kwargs: Any) -> Any:
        attempts.append(1)
        return real_session(**kwargs)

    monkeypatch.setattr(s._driver, "session", counted_session)
    started = time.monotonic()
    try:
        with pytest.raises(Unavailable):
            s.read("RETURN 1 AS x")
    finally:
        s.close()
    # Backoff 0.1 s, 0.2 s, ... inside the 0.5 s budget: sent again, and given up within it
    # (three attempts on an idle machine; slow refusals on a loaded one leave room for fewer).
    assert len(attempts) >= 2
    assert time.monotonic() - started < 5.0


class FreezableLink:
    """A TCP relay to the test server that can go silent: it keeps every connection open and
    stops passing the server's bytes on, as a host that vanished from the network would (no
    reset, no close; the client sees nothing)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self._upstream = upstream
        self.frozen = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self._upstream)
            self._open += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        # Until either side closes (or `close` shuts both down).
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if not self.frozen.is_set():
                    sink.sendall(data)

    def close(self) -> None:
        # shutdown() first: a thread blocked in accept() or recv() on a socket that is only
        # closed keeps it open (and its fd number is reused by the next test's connections).
        for s in [self._listener, *self._open]:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


def test_loop_read_of_a_server_gone_silent_ends_at_its_deadline_as_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The driver alone would wait on a silent connection for the server's
    # `connection.recv_timeout_seconds` hint (120 s by default), or for as long as TCP keeps
    # the connection on a server that sends none: the decision's read ends itself, at the
    # read timeout plus the retries' budget.
    if not NEO4J_URI:
        _missing("Neo4j")
    monkeypatch.setattr(neo4j_store, "READ_RETRY_S", 0.5)
    target = urlsplit(str(NEO4J_URI))
    link = FreezableLink((target.hostname or "127.0.0.1", target.port or 7687))
    store = Neo4jStore(f"bolt://127.0.0.1:{link.port}", "neo4j", NEO4J_PASSWORD, read_timeout_s=1.0)

    async def scenario() -> float:
        try:
            # Answered through the link first: the connection is pooled, then goes silent.
            assert await store._read_on_loop("RETURN $x AS x", {"x": 3}) == [{"x": 3}]
            link.frozen.set()
            started = time.monotonic()
            with pytest.raises(Unavailable, match="did not answer"):
                # The outer bound turns a read that never ends into a failure, not a hang.
                await asyncio.wait_for(store._read_on_loop("RETURN 1 AS x", {}), 30)
            return time.monotonic() - started
        finally:
            # The loop's driver is closed on its loop, before the loop goes.
            link.frozen.clear()
            await asyncio.wait_for(store._driver_of_loop().close(), 10)

    try:
        waited = asyncio.run(scenario())
    finally:
        link.close()
        store.close()
    assert 1.0 <= waited < 10.0
