"""uvicorn's access lines: an answered decision's is dropped, every other one is kept."""

from __future__ import annotations

import logging

import pytest

from ringwatch.api.telemetry import QuietDecisions, quiet_decision_access_log


def _access(method: str, path: str, status: int) -> logging.LogRecord:
    # The record uvicorn's httptools protocol logs for each answer.
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", method, path, "1.1", status),
        None,
    )


@pytest.mark.parametrize(
    ("method", "path", "status", "kept"),
    [
        ("POST", "/v1/decisions", 200, False),
        ("POST", "/v1/decisions?x=1", 200, False),
        ("POST", "/v1/decisions", 401, True),
        ("POST", "/v1/decisions", 422, True),
        ("POST", "/v1/decisions", 429, True),
        ("POST", "/v1/decisions", 503, True),
        ("GET", "/v1/decisions", 200, True),
        ("POST", "/v1/events", 202, True),
        ("GET", "/v1/strategies", 200, True),
        ("POST", "/v1/decisions/other", 200, True),
    ],
)
def test_only_answered_decisions_are_quiet(method: str, path: str, status: int, kept: bool) -> None:
    assert QuietDecisions().filter(_access(method, path, status)) is kept


def test_other_records_pass_and_the_filter_is_installed_once() -> None:
    plain = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "hello %s", ("x",), None)
    assert QuietDecisions().filter(plain)
    access = logging.getLogger("uvicorn.access")
    quiet_decision_access_log()
    quiet_decision_access_log()
    assert sum(isinstance(f, QuietDecisions) for f in access.filters) == 1
    assert not access.filter(_access("POST", "/v1/decisions", 200))
    assert access.filter(_access("POST", "/v1/decisions", 500))
