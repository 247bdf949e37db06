"""Per-request id and metrics, as a bare ASGI middleware (Starlette's BaseHTTPMiddleware costs a
task and a stream copy per request, visible in a decision's CPU budget)."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ringwatch.logs import REQUEST_ID_HEADER, new_request_id, request_id
from ringwatch.observability import LATENCY, REQUESTS

_HEADER = REQUEST_ID_HEADER.encode()


class Telemetry:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v for k, v in scope["headers"] if k == _HEADER), b"")
        rid = new_request_id(incoming.decode("latin-1") or None)
        token = request_id.set(rid)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (_HEADER, rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
            route = _template(scope)
            method = scope["method"]
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(time.perf_counter() - started)


def _template(scope: Scope) -> str:
    # The route's template, never the raw path: an account id in a path must not become a label.
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


DECISIONS_PATH = "/v1/decisions"


class QuietDecisions(logging.Filter):
    """Drops uvicorn's access line of an ANSWERED decision; every other line, and a refused or
    failed decision's, still goes out.

    At hundreds of decisions per second the line (a JSON log record written to stderr) was a
    visible share of a decision's CPU, and it says nothing the decision's audit record
    (`rw:decisions`, with its request's id) and the per-route request metrics do not.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn's access record: (client, method, path with query, HTTP version, status)
        if not isinstance(args, tuple) or len(args) != 5:
            return True
        _, method, path, _, status = args
        answered = isinstance(status, int) and status < 400
        decision = method == "POST" and str(path).split("?", 1)[0] == DECISIONS_PATH
        return not (answered and decision)


def quiet_decision_access_log() -> None:
    """Install `QuietDecisions` on uvicorn's access logger, once per process."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, QuietDecisions) for f in access.filters):
        access.addFilter(QuietDecisions())
