"""Blocking service calls off the event loop, through one plain thread pool.

Starlette's `run_in_threadpool` (anyio's worker threads) costs about twice the CPU per call of
`loop.run_in_executor` on a `ThreadPoolExecutor`: a capacity limiter, a cancel scope and a
`queue.Queue` whose Condition wakes the worker, where the executor hands over through a C
`SimpleQueue`. A decision makes two such calls (its key's check, then the decision), so the
difference shows in its CPU budget (docs/performance.md, "Decisions").

The caller's context variables (the request id that log lines and accepted batches carry) go
with the call, as with `run_in_threadpool`.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# As many threads as anyio's default limiter allows calls at once (40): each may hold a Redis
# or Neo4j connection while it waits for its answer. Threads start only when needed.
_POOL = ThreadPoolExecutor(max_workers=40, thread_name_prefix="rw-api")


async def run_blocking(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`await fn(*args, **kwargs)` in the pool; its exceptions are raised here.

    If the awaiting request is cancelled (the client went away), the call still runs to its
    end in its thread, as with `run_in_threadpool`: a decision begun is recorded."""
    context = contextvars.copy_context()
    call = functools.partial(context.run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_POOL, call)
