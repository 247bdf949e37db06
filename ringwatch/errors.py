"""The one error tree. `api/errors.py` maps it to HTTP; nothing else should.

RingwatchError
├── BadQuery      400  Cypher the engine (or the read-only guard's lexer) cannot parse or run
├── NotFound      404  an id that does not exist
├── Invalid       422  input that fails validation (carries field-level problems)
│   └── QueryTimeout 422 an analyst query that ran past its time limit (too costly as written)
├── TooLarge      413  a body over the size or count limit
├── Unauthorized  401  no or unknown credentials
├── Conflict      409  a state that forbids the request (a review claimed by another)
├── Forbidden     403  credentials without the right, or a write through a read-only path
├── RateLimited   429  a key over its request rate (carries the seconds to wait: Retry-After)
├── Unavailable   503  a backing service (graph store, Redis) cannot be reached
└── BatchFailed   500  the engine refused a validated batch (a bug, not bad input): dead-lettered
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    field: str
    reason: str
    index: int | None = None


class RingwatchError(Exception):
    status_code = 500

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems: list[Problem] = problems or []


class BadQuery(RingwatchError):
    """Cypher with a syntax or semantic error; the message is the engine's own."""

    status_code = 400


class NotFound(RingwatchError):
    status_code = 404


class Invalid(RingwatchError):
    status_code = 422


class QueryTimeout(Invalid):
    """Not 408 (the client was not slow) nor 5xx (the service is fine): the query, as written,
    costs more than the time limit allows, so it is the input that has to change."""


class TooLarge(RingwatchError):
    status_code = 413


class Unauthorized(RingwatchError):
    status_code = 401


class Forbidden(RingwatchError):
    status_code = 403


class RateLimited(RingwatchError):
    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Conflict(RingwatchError):
    """The resource is in a state that forbids this (a review claimed by someone else, or
    already resolved)."""

    status_code = 409


class Unavailable(RingwatchError):
    status_code = 503


class BatchFailed(RingwatchError):
    """The engine refused a validated batch (rolled back whole). Retrying would fail the same way,
    so the batch is set aside for inspection and manual redelivery instead."""
