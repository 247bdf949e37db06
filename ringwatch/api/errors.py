"""The one place where `RingwatchError`s become HTTP answers."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ringwatch.errors import RateLimited, RingwatchError, Unauthorized

log = logging.getLogger(__name__)


def problem_body(
    message: str, problems: list[dict[str, object]] | None = None
) -> dict[str, object]:
    body: dict[str, object] = {"error": message}
    if problems:
        body["problems"] = problems
    return body


def install(app: FastAPI) -> None:
    @app.exception_handler(RingwatchError)
    async def ringwatch_error(_: Request, exc: RingwatchError) -> JSONResponse:
        if exc.status_code >= 500:
            log.error("%s: %s", type(exc).__name__, exc.message)
        problems: list[dict[str, object]] = [
            {"index": p.index, "field": p.field, "reason": p.reason}
            if p.index is not None
            else {"field": p.field, "reason": p.reason}
            for p in exc.problems
        ]
        headers: dict[str, str] = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
        elif isinstance(exc, Unauthorized):
            headers["WWW-Authenticate"] = "Bearer"  # RFC 9110: a 401 names the scheme to use
        return JSONResponse(
            problem_body(exc.message, problems), status_code=exc.status_code, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems: list[dict[str, object]] = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "reason": e["msg"]}
            for e in exc.errors()
        ]
        return JSONResponse(problem_body("invalid request", problems), status_code=422)


def document_errors(schema: dict[str, Any]) -> None:
    """Declare the answers `install` gives, where a route can give them: a missing resource on
    routes that name one, a refused request body (400) or conflict (409) on writes, and 503 on
    every route, since each one reads the store or Redis."""
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            answers = operation.setdefault("responses", {})
            answers.setdefault("503", {"description": "the store or Redis is unavailable"})
            names_one = any(p.get("in") == "path" for p in operation.get("parameters", []))
            if names_one:
                answers.setdefault("404", {"description": "no such resource"})
            if method.lower() in {"post", "put", "patch", "delete"}:
                answers.setdefault(
                    "400", {"description": "the request is well-formed but cannot be carried out"}
                )
                answers.setdefault("409", {"description": "conflicts with the resource's state"})
