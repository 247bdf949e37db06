"""Who may call what: one dependency on every route, one permission table (docs/security.md).

The dependency is installed on the application itself (`FastAPI(dependencies=...)`), so every
route any router adds gets it without anyone remembering to. It authenticates the key (401),
counts it against the key's rate limit (429), then looks the route up in `PERMISSIONS` by method
and path template (403). A route that no rule classifies is open to admin only, and
tests/api/test_auth.py fails on it: a new route is unreachable until someone decides who may
call it.

Rules are `METHOD /path` (METHOD may be `*`, or several joined by commas); a path ending in `*`
covers itself and everything below it; `{...}` matches any path parameter. The most specific
matching rule decides (longest path, then exact over prefix, then a named method over `*`), so
a narrow rule can take rights away from a broad one, as the persona rule does below.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ringwatch.api.offload import run_blocking
from ringwatch.errors import Forbidden, Unauthorized
from ringwatch.services.keys import Principal, Role

__all__ = [
    "AUTHORIZE",
    "OPEN_ROUTES",
    "PERMISSIONS",
    "Principal",
    "PrincipalDep",
    "Role",
    "Rule",
    "allowed_roles",
    "authorize",
    "classify",
    "document_openapi",
    "permit",
    "required_token",
]

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
SCHEME_NAME = "ApiKey"
_PARAM = re.compile(r"\{[^}]*\}")

bearer = HTTPBearer(
    auto_error=False,
    scheme_name=SCHEME_NAME,
    bearerFormat="rw_<key id>_<secret>",
    description=f"An API key, as `Authorization: Bearer <key>` (or the `{API_KEY_HEADER}` header).",
)


@dataclass(frozen=True)
class Rule:
    methods: frozenset[str]  # empty: any method
    path: str  # normalised template, without the trailing `*`
    prefix: bool
    roles: frozenset[Role]  # admin is implied everywhere and never listed

    @property
    def spec(self) -> str:
        methods = ",".join(sorted(self.methods)) or "*"
        return f"{methods} {self.path}{'*' if self.prefix else ''}"

    def matches(self, method: str, path: str) -> bool:
        if self.methods and method not in self.methods:
            return False
        if self.prefix:
            return path == self.path or path.startswith(self.path.rstrip("/") + "/")
        return path == self.path

    @property
    def specificity(self) -> tuple[int, bool, bool]:
        return (len(self.path), not self.prefix, bool(self.methods))


def _normalise(path: str) -> str:
    return _PARAM.sub("{}", path)


def rule(spec: str, *roles: Role) -> Rule:
    methods, path = spec.split(" ", 1)
    prefix = path.endswith("*")
    return Rule(
        methods=frozenset() if methods == "*" else frozenset(methods.split(",")),
        path=_normalise(path.rstrip("*")),
        prefix=prefix,
        roles=frozenset(roles) - {Role.ADMIN},
    )


INGEST, DECIDE, ENFORCEMENT = Role.INGEST, Role.DECIDE, Role.ENFORCEMENT
INVESTIGATOR, ANALYST = Role.INVESTIGATOR, Role.ANALYST

PERMISSIONS: tuple[Rule, ...] = (
    rule("POST /v1/events", INGEST),
    rule("* /v1/decisions*", DECIDE),
    # Automated enforcement: the feed, its webhook subscriptions, coordinated ring actions.
    rule("GET /v1/verdicts*", ENFORCEMENT),
    rule("* /v1/webhooks*", ENFORCEMENT),
    rule("POST /v1/rings/{id}/actions", ENFORCEMENT),
    # Reads of findings. Writes under these paths need rules of their own.
    rule("GET /v1/rings*", INVESTIGATOR, ANALYST),
    rule("GET /v1/accounts*", INVESTIGATOR, ANALYST),
    # Run records: coverage and the verdict model's cross-validated quality.
    rule("GET /v1/detection*", INVESTIGATOR, ANALYST),
    # Personas gather one person's accounts and identifiers: casework, not aggregate analysis.
    rule("GET /v1/accounts/{id}/persona*", INVESTIGATOR),
    rule("* /v1/reviews*", INVESTIGATOR),
    rule("GET /v1/audit*", INVESTIGATOR),
    # Saved investigations are parameterised read-only Cypher; running one (a POST) gives an
    # analyst nothing that POST /v1/cypher does not, so both roles may list and run them.
    rule("* /v1/investigations*", INVESTIGATOR, ANALYST),
    rule("POST /v1/cypher", ANALYST),
    # Admin only. Listed so that these routes count as classified, not forgotten.
    rule("* /v1/keys*"),
    rule("* /v1/strategies*"),
)

# Liveness, readiness and the Prometheus scrape must answer orchestrators that hold no key (the
# metrics carry counts and route templates, never an identifier). The docs (/docs, /redoc,
# /openapi.json) are plain Starlette routes outside the dependency and so are open too.
OPEN_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
)

# The browser console (ringwatch/console/) signs in with a key once and then carries a session
# cookie, so its routes check the session, its role and a CSRF token themselves
# (ringwatch/console/auth.py) instead of a key on every request.
CONSOLE_PREFIX = "/console"


@lru_cache(maxsize=1024)
def classify(method: str, path_template: str) -> Rule | None:
    """The rule that decides a route, or None when no rule covers it."""
    path = _normalise(path_template)
    matching = [r for r in PERMISSIONS if r.matches(method, path)]
    return max(matching, key=lambda r: r.specificity, default=None)


def allowed_roles(method: str, path_template: str) -> frozenset[Role]:
    """Every role that may call the route; admin only for an unclassified one."""
    found = classify(method, path_template)
    return frozenset({Role.ADMIN}) | (found.roles if found else frozenset())


def _token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials is not None:
        return credentials.credentials
    return request.headers.get(API_KEY_HEADER) or None


def route_template(request: Request) -> str:
    """The matched route's full path template, e.g. `/v1/rings/{ring_id}`."""
    # FastAPI 0.16x includes routers lazily: scope["route"] is then the router's own APIRoute,
    # whose path lacks any prefix given at include time, and the full template lives on the
    # effective route context. Older versions copied routes at include time with the full path.
    context = request.scope.get("fastapi", {}).get("effective_route_context")
    template = getattr(context, "path_format", None)
    if isinstance(template, str):
        return template
    route = request.scope.get("route")
    if isinstance(route, APIRoute):
        return route.path_format
    # Not a route this dependency can be on; refusing beats guessing from the concrete URL.
    raise Forbidden("no route template to check permissions against")


async def authorize(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> None:
    # The decision route's own handler (api/decision_route.py) takes the same steps for its
    # one route: `required_token`, the key's check, `permit`.
    # Async, with only the key's Redis round trip sent to a thread (`run_blocking`): a sync
    # dependency is run by FastAPI in anyio's thread pool WHOLE, which cost a decision a second
    # full pool hop for work (route, permission rule) that needs no I/O. The round trip stays
    # off the event loop, so a slow or hung Redis never stalls /healthz or other requests.
    template = route_template(request)
    method = request.method
    if (method, template) in OPEN_ROUTES:
        return
    if template == CONSOLE_PREFIX or template.startswith(CONSOLE_PREFIX + "/"):
        return
    token = required_token(request, credentials)
    services = request.app.state.services
    principal = await run_blocking(services.keys.authenticate, token)
    request.state.principal = principal
    permit(principal, method, template)


def required_token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str:
    token = _token(request, credentials)
    if not token:
        raise Unauthorized(f"an API key is required (Authorization: Bearer, or {API_KEY_HEADER})")
    return token


def permit(principal: Principal, method: str, template: str) -> None:
    """Refuse (403) a principal whose role may not call the route."""
    if principal.role is Role.ADMIN:
        return
    found = classify(method, template)
    if found is None:
        log.warning("%s %s is in no permission rule: admin only until classified", method, template)
    if found is None or principal.role not in found.roles:
        raise Forbidden(f"role {principal.role.value} may not call {method} {template}")


AUTHORIZE = Depends(authorize)


async def current_principal(request: Request) -> Principal:
    # Async: no I/O here, and a sync dependency would cost a thread-pool hop (api/deps.py).
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        # Only reachable from an open route, which has no caller to name.
        raise Unauthorized("no API key on this request")
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]
"""For handlers that record who acted (audit entries, review claims)."""


def document_openapi(schema: dict[str, Any]) -> None:
    """Mark the open routes as needing no key and give every other one its auth answers."""
    responses = {
        "401": {"description": "no API key, or an unknown or revoked one"},
        "403": {"description": "the key's role may not call this route"},
        "429": {"description": "the key is over its rate limit; see the Retry-After header"},
    }
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if (method.upper(), path) in OPEN_ROUTES:
                operation["security"] = []
                continue
            roles = sorted(r.value for r in allowed_roles(method.upper(), path))
            operation["description"] = (
                operation.get("description", "") + f"\n\nRoles: {', '.join(roles)}."
            ).strip()
            for code, answer in responses.items():
                operation.setdefault("responses", {}).setdefault(code, answer)
