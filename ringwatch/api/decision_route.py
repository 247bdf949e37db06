"""`POST /v1/decisions` answered ahead of FastAPI's generic request path, when the request is
well-formed; FastAPI's own route answers everything else, so behaviour is the same by
construction.

A decision is the API's hot path (hundreds per second on two cores), and FastAPI's per-request
machinery around it (the route table walked, two exit stacks, dependency solving, the body
parsed by `json` then validated field by field with error bookkeeping, a `Request` per
dependency) cost more of the API process's CPU than the decision's own Python
(docs/performance.md, "Decisions", third round). This route, first in the table, matches only
`POST /v1/decisions` and:

- parses the body with orjson and validates it with one `DecisionRequest.model_validate`, the
  same model (in the same, Python, mode) FastAPI validates the parsed body with;
- admits the key as FastAPI's `authorize` dependency does (the same token rule, the same
  roles, the same 401 / 429 / 403 answered before anything else), but inside the decision's
  first Redis round trip: one script checks the key and accepts the context event only for an
  admitted key (`DecisionService.decide(admission=...)`, `KeyService.gate`);
- decides with `decisions.decide_on_loop`: the same `DecisionService` steps as the FastAPI
  endpoint's `decide_now`, with the Redis round trips made by the event loop and only the graph
  read and the rules in ONE pool hop (FastAPI's route makes one hop for the key's check and one
  for the whole decision).

Whenever the request is NOT one it can answer that way (no JSON content type, a body orjson or
the model refuses, a test's dependency overrides), it hands the request, body replayed, to the
router again with this route stepping aside, and FastAPI answers it exactly as before: the same
422 body (field and reason) for bad input, and the key checked first where FastAPI checks it
first. Nothing runs twice: the fallback happens before the key is checked (and its rate spent).
The OpenAPI document is still FastAPI's: its route stays in the table; this one is not in the
schema.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ringwatch.api import auth
from ringwatch.api.decisions import DecisionRequest, decide_on_loop
from ringwatch.services.keys import Admission

PATH = "/v1/decisions"
METHOD = "POST"
# Set in the scope when a request is handed back to FastAPI's route: this one then steps aside.
_GENERIC = "ringwatch.generic_route"
_CONTENT_TYPE = b"content-type"
# What `auth.authorize` admits to this route, and how its 403 names the call (`auth.permit`).
_ROLES = auth.allowed_roles(METHOD, PATH)
_CALL = f"{METHOD} {PATH}"


class DecisionRoute(BaseRoute):
    def __init__(self, router: ASGIApp) -> None:
        self.router = router  # the table this route sits in, for the hand-back
        self.path = PATH  # the metrics' route label (api/telemetry.py), as FastAPI's route has
        self.name = "decide_fast"
        self.include_in_schema = False

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if (
            scope["type"] == "http"
            and scope["path"] == PATH
            and scope["method"] == METHOD
            and _GENERIC not in scope
        ):
            return Match.FULL, {"route": self, "endpoint": self.handle, "path_params": {}}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        # `url_for("decide")` finds FastAPI's route, as before.
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        parsed = None if scope["app"].dependency_overrides else _parse(scope, body)
        if parsed is None:
            await self._generic(scope, body, receive, send)
            return
        request = Request(scope, receive, send)
        token = auth.required_token(request, await auth.bearer(request))
        state = scope["app"].state
        # The key's check in the decision's first Redis round trip, answered first
        # (`DecisionService.decide(admission=...)`), and that round trip and the audit record's
        # made by the event loop: only the graph read and the rules go to the pool, in ONE hop
        # (FastAPI's route makes two: the `authorize` dependency's, then the endpoint's).
        admission = Admission(token, _ROLES, _CALL)
        payload = await decide_on_loop(state.services, parsed, state.queue, admission)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                # As Starlette's Response(media_type="application/json") writes them.
                "headers": [
                    (b"content-length", str(len(payload)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def _generic(self, scope: Scope, body: bytes, receive: Receive, send: Send) -> None:
        """FastAPI's route answers, reading the body already received."""
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: a disconnect, as the server would send

        scope[_GENERIC] = True
        await self.router(scope, replay, send)


def _parse(scope: Scope, body: bytes) -> DecisionRequest | None:
    """The request, if FastAPI would accept it as is; None when FastAPI should answer (its
    answer may still be a 200: e.g. JSON only Python's parser takes, such as NaN)."""
    content_type = next((v for k, v in scope["headers"] if k == _CONTENT_TYPE), None)
    # FastAPI parses JSON only under a JSON content type (strict_content_type); other types,
    # `+json` suffixes and parameters other than these go the generic way.
    if content_type is None or content_type.split(b";", 1)[0].strip().lower() != (
        b"application/json"
    ):
        return None
    try:
        return DecisionRequest.model_validate(orjson.loads(body))
    except (orjson.JSONDecodeError, ValidationError):
        return None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif message["type"] == "http.disconnect":
            # What FastAPI's route answers when reading the body fails (the client is gone).
            raise HTTPException(status_code=400, detail="There was an error parsing the body")


def install(app: Any) -> None:
    """Put the route first in `app`'s table (after every router has been included)."""
    app.router.routes.insert(0, DecisionRoute(app.router))
