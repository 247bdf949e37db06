"""Redis round trips on the event loop: one connection per loop, commands pipelined in order.

A decision's Redis round trips (the prefetch with the key's check, the audit record) were made
with redis-py from a pool thread, each one blocking that thread in `recv` while redis-server,
on the same cores, answered: a GIL hand-off and two context switches per round trip, and
redis-py's per-command machinery (connection checkout, retry wrapper, packing, reply callbacks)
around it (docs/performance.md, "Decisions", fourth round). Here the event loop writes each
caller's commands to one connection as they come and hands each reply, in order (Redis answers
every connection in order), to the caller's future; under load the replies of several decisions
arrive in one read.

Only what those round trips need: plain and Unix-socket connections (AUTH, SELECT), replies as
hiredis parses them, server errors as the exceptions redis-py raises (a NOSCRIPT answer is a
`NoScriptError`), a lost connection or a reply later than the client's socket timeout as
`redis.ConnectionError` / `redis.TimeoutError`, after which the connection is dropped (the next
call opens a new one). `LoopRedis.like` returns None for anything else (TLS, a credential
provider), and the caller keeps its blocking path.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Any, cast

import hiredis
import redis
from redis.connection import Connection, UnixDomainSocketConnection

Command = Sequence[Any]

_ERROR_CLASSES: dict[str, Any] = {
    "NOSCRIPT": redis.exceptions.NoScriptError,
    "BUSY": redis.exceptions.BusyLoadingError,
    "LOADING": redis.exceptions.BusyLoadingError,
    "READONLY": redis.exceptions.ReadOnlyError,
    "NOAUTH": redis.exceptions.AuthenticationError,
    "WRONGPASS": redis.exceptions.AuthenticationError,
    "OOM": redis.exceptions.OutOfMemoryError,
}


def _error(reply: hiredis.ReplyError) -> redis.RedisError:
    """The exception redis-py would give for a server's error reply."""
    message = str(reply)
    code = message.split(" ", 1)[0]
    cls = _ERROR_CLASSES.get(code)
    if cls is None:
        return redis.exceptions.ResponseError(message)
    return cls(message[len(code) + 1 :])  # type: ignore[no-any-return]


def _retrieve(futures: Sequence[asyncio.Future[Any]]) -> None:
    """Mark failed futures' exceptions as seen: the caller raises one for all of them."""
    for future in futures:
        if future.done() and not future.cancelled():
            future.exception()


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        self.pending: deque[asyncio.Future[Any]] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio's: no isinstance check here.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        pending = self.pending
        while True:
            reply = self.reader.gets()
            if reply is False:
                return
            future = pending.popleft()
            if not future.done():  # a caller that gave up still had its reply in the stream
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = redis.ConnectionError(f"Redis closed the connection: {exc or 'EOF'}")
        self.transport = None
        while self.pending:
            future = self.pending.popleft()
            if not future.done():
                future.set_exception(self.lost)


class LoopRedis:
    """Commands to the Redis of a redis-py client, sent from the running event loop."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self._kwargs = kwargs
        self._timeout: float | None = kwargs.get("socket_timeout")
        self._protocol: _Protocol | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening: asyncio.Future[_Protocol] | None = None

    @classmethod
    def like(cls, client: redis.Redis) -> LoopRedis | None:
        """A loop connection to the client's server, or None when this module cannot open one
        as the client would (TLS, credential providers, ...)."""
        pool = client.connection_pool
        kwargs = dict(pool.connection_kwargs)
        if pool.connection_class not in (Connection, UnixDomainSocketConnection):
            return None
        if kwargs.get("credential_provider") is not None or kwargs.get("protocol") not in (
            None,
            2,
            "2",
        ):
            return None
        return cls(kwargs)

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        """Send the commands in one write; their replies in order, a server's error reply as its
        exception object in its place (as redis-py's `execute(raise_on_error=False)`)."""
        return await self._send(await self._connection(), commands)

    async def _send(self, protocol: _Protocol, commands: Sequence[Command]) -> list[Any]:
        if protocol.transport is None:
            raise protocol.lost or redis.ConnectionError("Redis connection closed")
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in commands]
        protocol.pending.extend(futures)
        protocol.transport.write(b"".join([hiredis.pack_command(tuple(c)) for c in commands]))
        try:
            async with asyncio.timeout(self._timeout):
                await futures[-1]  # replies come in order: the last one comes last
        except TimeoutError as e:
            self._drop(protocol)
            _retrieve(futures)
            raise redis.TimeoutError("Timeout reading from Redis") from e
        except redis.ConnectionError:
            _retrieve(futures)
            raise
        return [
            _error(reply) if isinstance(reply, hiredis.ReplyError) else reply
            for reply in (f.result() for f in futures)
        ]

    async def _connection(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        protocol = self._protocol
        if protocol is not None and protocol.transport is not None and self._loop is loop:
            return protocol
        if self._opening is not None and self._loop is loop and not self._opening.done():
            return await asyncio.shield(self._opening)
        self._loop = loop
        self._opening = loop.create_future()
        try:
            protocol = await self._open(loop)
        except BaseException as e:
            self._opening.set_exception(e)
            self._opening.exception()  # retrieved: waiters got it, nobody else needs to
            self._opening = None
            raise
        self._protocol = protocol
        self._opening.set_result(protocol)
        return protocol

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Protocol:
        kw = self._kwargs
        timeout = kw.get("socket_connect_timeout") or self._timeout
        try:
            async with asyncio.timeout(timeout):
                if kw.get("path"):
                    _, protocol = await loop.create_unix_connection(_Protocol, kw["path"])
                else:
                    _, protocol = await loop.create_connection(
                        _Protocol, kw.get("host", "localhost"), kw.get("port", 6379)
                    )
        except (OSError, TimeoutError) as e:
            raise redis.ConnectionError(f"cannot connect to Redis: {e}") from e
        setup: list[Command] = []
        if kw.get("password"):
            user = kw.get("username")
            setup.append(("AUTH", user, kw["password"]) if user else ("AUTH", kw["password"]))
        if kw.get("db"):
            setup.append(("SELECT", kw["db"]))
        if setup:
            for reply in await self._send(protocol, setup):
                if isinstance(reply, Exception):
                    self._drop(protocol)
                    raise reply
        return protocol

    def _drop(self, protocol: _Protocol) -> None:
        if protocol.transport is not None:
            protocol.transport.abort()  # connection_lost fails whatever is still pending
        if self._protocol is protocol:
            self._protocol = None
