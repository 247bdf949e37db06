"""The event loop's Redis connection (graph/loop_redis.py) against a real Redis: replies in
order, server errors as redis-py's exceptions, the database of the client it copies, and a new
connection after the old one was lost."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest
import redis
import uvloop

from ringwatch.graph.loop_redis import LoopRedis

T = TypeVar("T")

pytestmark = pytest.mark.redis


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Callable[[Coroutine[Any, Any, T]], T]:
    """Each test on asyncio's loop and on uvloop's, which `ringwatch serve` runs."""
    factory = uvloop.new_event_loop if request.param == "uvloop" else asyncio.new_event_loop

    def go(coroutine: Coroutine[Any, Any, T]) -> T:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(coroutine)

    return go


def _loop_client(client: redis.Redis) -> LoopRedis:
    made = LoopRedis.like(client)
    assert made is not None
    return made


def test_commands_go_in_order_to_the_clients_database(
    redis_client: redis.Redis, run: Callable[[Coroutine[Any, Any, Any]], Any]
) -> None:
    loop_redis = _loop_client(redis_client)  # the fixture's client uses db 1

    async def go() -> list[object]:
        return await loop_redis.execute(
            [("SET", "k", "v"), ("GET", "k"), ("GET", "missing"), ("MGET", "k", "missing")]
        )

    assert run(go()) == [b"OK", b"v", None, [b"v", None]]
    assert redis_client.get("k") == b"v"
    kwargs = redis_client.connection_pool.connection_kwargs
    db0 = redis.Redis(host=kwargs["host"], port=kwargs["port"], db=0)
    assert db0.get("k") is None  # written to db 1, the client's, not the server's default
    db0.close()


def test_a_servers_error_is_redis_pys_exception_in_its_place(
    redis_client: redis.Redis, run: Callable[[Coroutine[Any, Any, Any]], Any]
) -> None:
    loop_redis = _loop_client(redis_client)

    async def go() -> list[object]:
        return await loop_redis.execute(
            [("EVALSHA", "0" * 40, 0), ("INCR", "n"), ("LPUSH", "n", "x"), ("INCR", "n")]
        )

    missing, one, wrong_type, two = run(go())
    assert isinstance(missing, redis.exceptions.NoScriptError)
    assert (one, two) == (1, 2)
    assert isinstance(wrong_type, redis.exceptions.ResponseError)
    assert "WRONGTYPE" in str(wrong_type)


def test_a_lost_connection_is_opened_again(
    redis_client: redis.Redis, run: Callable[[Coroutine[Any, Any, Any]], Any]
) -> None:
    loop_redis = _loop_client(redis_client)

    async def go() -> list[object]:
        await loop_redis.execute([("CLIENT", "SETNAME", "rw-loop-test")])
        killed = 0
        for c in redis_client.client_list():
            if c.get("name") == "rw-loop-test":
                killed += redis_client.client_kill_filter(_id=c["id"])
        assert killed == 1
        with pytest.raises(redis.ConnectionError):
            for _ in range(50):  # the loss is seen at the next read
                await loop_redis.execute([("PING",)])
                await asyncio.sleep(0.01)
        return await loop_redis.execute([("SET", "after", "1"), ("GET", "after")])

    assert run(go()) == [b"OK", b"1"]
