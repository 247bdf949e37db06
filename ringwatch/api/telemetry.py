"""Per-request id and metrics, as a bare ASGI middleware (Starlette's BaseHTTPMiddleware costs a
task and a stream copy per request, visible in a decision's CPU budget)."""

from __future__ import annotations

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
