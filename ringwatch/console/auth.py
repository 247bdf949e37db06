"""Who may open which console page: a session cookie, its key's role, and CSRF on every POST.

The application-wide API-key dependency (ringwatch/api/auth.py) lets console routes through to
this module, because a browser carries a session cookie, not a bearer key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from ringwatch.console.session import COOKIE, Session, Sessions
from ringwatch.services.keys import Role

INVESTIGATORS = frozenset({Role.INVESTIGATOR, Role.ADMIN})
ANALYSTS = frozenset({Role.ANALYST, Role.ADMIN})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"


class ConsoleRefused(Exception):
    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def sessions(request: Request) -> Sessions:
    services = request.app.state.services
    return Sessions(services.redis, services.keys)


async def _form_csrf(request: Request) -> str | None:
    token = request.headers.get(CSRF_HEADER)
    if token:
        return token
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        from urllib.parse import parse_qs

        form = parse_qs((await request.body()).decode(), keep_blank_values=True)
        request.state.form = {k: v[0] for k, v in form.items()}
        found: str | None = request.state.form.get(CSRF_FIELD)
        return found
    return None


def require(roles: frozenset[Role]) -> Callable[..., object]:
    async def check(request: Request) -> Session:
        session = sessions(request).get(request.cookies.get(COOKIE))
        if session is None:
            raise ConsoleRefused(401, "sign in with an API key")
        if session.role not in roles:
            raise ConsoleRefused(403, f"role {session.role.value} may not open {request.url.path}")
        if request.method not in ("GET", "HEAD") and not session.csrf_ok(await _form_csrf(request)):
            raise ConsoleRefused(403, "missing or wrong CSRF token; reload the page")
        request.state.session = session
        return session

    return check


InvestigatorDep = Annotated[Session, Depends(require(INVESTIGATORS))]
AnalystDep = Annotated[Session, Depends(require(ANALYSTS))]


def form(request: Request) -> dict[str, str]:
    """The urlencoded form the CSRF check already parsed."""
    parsed: dict[str, str] = getattr(request.state, "form", {})
    return parsed
