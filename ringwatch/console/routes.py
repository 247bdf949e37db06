"""The console's pages and the few JSON calls its scripts make, all thin over services/."""

from __future__ import annotations

import csv
import datetime as dt
import io
import mimetypes
import secrets
import time
from dataclasses import asdict
from importlib import resources
from pathlib import PurePosixPath
from typing import Annotated, Any
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ringwatch.api.deps import ServicesDep
from ringwatch.console.auth import (
    ANALYSTS,
    CSRF_FIELD,
    INVESTIGATORS,
    AnalystDep,
    ConsoleRefused,
    InvestigatorDep,
    form,
    sessions,
)
from ringwatch.console.session import COOKIE, TTL_S, Session
from ringwatch.errors import RingwatchError, Unauthorized
from ringwatch.services import analysts, persona, results, ring_graph, ring_layout, search
from ringwatch.services.audit import Actor
from ringwatch.services.ring_list import SORTS, RingQuery, ring_list

PREFIX = "/console"
LOGIN_COOKIE = "rw_console_login"  # double-submit CSRF token for the sign-in form
router = APIRouter(prefix=PREFIX, include_in_schema=False)
templates = Jinja2Templates(directory=str(resources.files("ringwatch.console") / "templates"))
STATIC = resources.files("ringwatch.console") / "static"
LABELS = ("fraud", "legit", "underage", "unsure")


def page(
    request: Request, name: str, session: Session | None, http_status: int = 200, **ctx: Any
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        name,
        {"session": session, "csrf_field": CSRF_FIELD, "prefix": PREFIX, **ctx},
        status_code=http_status,
    )


def _secure(request: Request) -> bool:
    return bool(request.app.state.services.settings.env != "development")


# -- sign-in -------------------------------------------------------------------------------------
@router.get("/login")
async def login_form(request: Request, error: str = "") -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = page(request, "login.html", None, login_csrf=token, error=error)
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request), path=PREFIX
    )
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    fields = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, fields.get(CSRF_FIELD, "")):
        raise ConsoleRefused(403, "the sign-in form expired; load it again")
    try:
        session = await run_in_threadpool(sessions(request).sign_in, fields.get("key", "").strip())
    except Unauthorized:
        return RedirectResponse(f"{PREFIX}/login?error=invalid+or+revoked+key", status_code=303)
    home = "/analysts" if session.role not in INVESTIGATORS else "/rings"
    response = RedirectResponse(PREFIX + home, status_code=303)
    response.set_cookie(
        COOKIE,
        session.session_id,
        max_age=TTL_S,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path=PREFIX,
    )
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = sessions(request).get(request.cookies.get(COOKIE))
    if session is None or not session.csrf_ok(form(request).get(CSRF_FIELD)):
        # The form was parsed by nobody yet: read it here.
        fields = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if session is None or not session.csrf_ok(fields.get(CSRF_FIELD)):
            raise ConsoleRefused(403, "missing or wrong CSRF token")
    sessions(request).sign_out(session.session_id)
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


@router.get("")
@router.get("/")
async def home(request: Request) -> Response:
    return RedirectResponse(f"{PREFIX}/rings", status_code=303)


# -- static files (a route, not a mount, so the app-wide checks still see it) -------------------
@router.get("/static/{path:path}")
async def static(path: str) -> Response:
    parts = PurePosixPath(path).parts
    if not parts or any(p in ("..", "") or p.startswith(".") for p in parts):
        return Response(status_code=404)
    target = STATIC.joinpath(*parts)
    if not target.is_file():
        return Response(status_code=404)
    kind = mimetypes.guess_type(parts[-1])[0] or "application/octet-stream"
    return Response(target.read_bytes(), media_type=kind, headers={"Cache-Control": "max-age=3600"})


# -- rings ---------------------------------------------------------------------------------------
@router.get("/rings")
async def rings(
    request: Request,
    session: InvestigatorDep,
    services: ServicesDep,
    verdict: Annotated[str, Query(max_length=20)] = "",
    kind: Annotated[str, Query(max_length=40)] = "",
    # Text, not numbers: the filter form sends a cleared field as an empty value.
    min_size: Annotated[str, Query(max_length=10, pattern=r"^\d*$")] = "",
    max_size: Annotated[str, Query(max_length=10, pattern=r"^\d*$")] = "",
    min_score: Annotated[float, Query(ge=0, le=1)] = 0.0,
    changed_since: Annotated[str, Query(max_length=20)] = "",
    sort: Annotated[str, Query(max_length=20)] = "score",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    page_no: Annotated[int, Query(alias="page", ge=0)] = 0,
) -> HTMLResponse:
    query = RingQuery(
        verdict=verdict or None,
        kind=kind or None,
        min_size=int(min_size or 0),
        max_size=int(max_size) if max_size else None,
        min_score=min_score,
        since=_epoch_ms(changed_since),
        sort=sort if sort in SORTS else "score",
        descending=order == "desc",
        page=page_no,
    )
    found = await run_in_threadpool(ring_list, services.store, query)
    now_ms = int(time.time() * 1000)
    for r in found["items"]:
        r["age"] = age_text(now_ms, r.get("created_at"))
    return page(
        request,
        "rings.html",
        session,
        found=found,
        query=query,
        sorts=SORTS,
        changed_since=changed_since if query.since is not None else "",
    )


def _epoch_ms(value: str) -> int | None:
    """A datetime-local field (UTC) as epoch ms; blank or unreadable means no filter."""
    try:
        parsed = dt.datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    if parsed is None:
        return None
    return int(parsed.replace(tzinfo=parsed.tzinfo or dt.UTC).timestamp() * 1000)


def age_text(now_ms: int, created: int | None) -> str:
    """How long ago a ring was first seen, coarsely: "40 min", "5 h", "12 d"."""
    if created is None:
        return ""
    if created < 10**11:  # the graph keeps some times as epoch seconds
        created *= 1000
    minutes = max(0, now_ms - created) // 60_000
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"


@router.get("/rings/{ring_id}")
async def ring(
    request: Request, session: InvestigatorDep, services: ServicesDep, ring_id: str
) -> HTMLResponse:
    view = await run_in_threadpool(results.ring_view, services.store, ring_id)
    return page(request, "ring.html", session, ring=view)


@router.get("/rings/{ring_id}/graph.json")
async def ring_graph_json(
    _: InvestigatorDep, services: ServicesDep, ring_id: str
) -> dict[str, Any]:
    graph = await run_in_threadpool(ring_graph.ring_graph, services.store, ring_id)
    # Positions come with the graph: the browser draws them instead of laying the ring out.
    return await run_in_threadpool(ring_layout.place, graph)


@router.get("/rings/{ring_id}/export.csv")
async def ring_csv(_: InvestigatorDep, services: ServicesDep, ring_id: str) -> Response:
    graph = await run_in_threadpool(ring_graph.ring_graph, services.store, ring_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["source", "target", "type", "kind", "first_seen"])
    for e in graph["edges"]:
        writer.writerow([e["source"], e["target"], e["type"], e["kind"], e["first_seen"] or ""])
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="ring-{ring_id}.csv"'},
    )


@router.get("/graph/identifier")
async def expand_identifier(
    _: InvestigatorDep,
    services: ServicesDep,
    kind: Annotated[str, Query(max_length=40)],
    key: Annotated[str, Query(max_length=200)],
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    return await run_in_threadpool(ring_graph.expand, services.store, kind, key, offset)


@router.get("/graph/account/{account_id}")
async def expand_account(
    _: InvestigatorDep, services: ServicesDep, account_id: str
) -> dict[str, Any]:
    return await run_in_threadpool(ring_graph.expand_account, services.store, account_id)


# -- accounts, search ----------------------------------------------------------------------------
@router.get("/accounts/{account_id}")
async def account(
    request: Request, session: InvestigatorDep, services: ServicesDep, account_id: str
) -> HTMLResponse:
    view = await run_in_threadpool(
        persona.persona, services.store, lambda: services.decisions, account_id
    )
    near = await run_in_threadpool(ring_graph.neighbours, services.store, account_id)
    return page(request, "account.html", session, p=view, neighbours=near)


@router.get("/search")
async def search_page(
    request: Request,
    session: InvestigatorDep,
    services: ServicesDep,
    q: Annotated[str, Query(max_length=300)] = "",
    kind: Annotated[str, Query(max_length=20)] = "account",
    country: Annotated[str, Query(max_length=2)] = "",
) -> HTMLResponse:
    found = None
    if q:
        found = await run_in_threadpool(
            search.search, services.store, services.hasher, kind, q, country or None
        )
    # The raw value is not echoed back into the page: only the kind and the pseudonym are shown.
    return page(request, "search.html", session, found=found, kind=kind, kinds=search.SEARCH_KINDS)


# -- reviews -------------------------------------------------------------------------------------
def effect_text(effects: dict[str, Any]) -> str:
    """What a label did, in the words an investigator uses: "ban applied to 3 accounts"."""
    if not effects or not effects.get("action"):
        return "no enforcement (item closed)"
    accounts = effects.get("accounts") or []
    parts = [f"{effects['action']} applied to {len(accounts)} account(s)"]
    if effects.get("suppressed") or effects.get("suppression"):
        parts.append("ring suppressed for its current evidence")
    return "; ".join(parts)


async def _queue_page(
    request: Request,
    session: Session,
    services: Any,
    status: str,
    cursor: str = "",
    resolved: dict[str, Any] | None = None,
) -> HTMLResponse:
    queue = services.reviews
    found = await run_in_threadpool(queue.page, status, "priority", 50, cursor)
    return page(
        request,
        "reviews.html",
        session,
        found=found,
        status=status,
        labels=LABELS,
        resolved=resolved,
        effect=effect_text(resolved.get("effects") or {}) if resolved else None,
    )


@router.get("/reviews")
async def reviews(
    request: Request,
    session: InvestigatorDep,
    services: ServicesDep,
    status: Annotated[str, Query(pattern="^(open|claimed|resolved)$")] = "open",
    cursor: Annotated[str, Query(max_length=400)] = "",
) -> HTMLResponse:
    return await _queue_page(request, session, services, status, cursor)


@router.post("/reviews/{review_id}/claim")
async def claim(session: InvestigatorDep, services: ServicesDep, review_id: str) -> Response:
    actor = Actor(session.key_id, session.name)
    await run_in_threadpool(services.reviews.claim, review_id, actor)
    return RedirectResponse(f"{PREFIX}/reviews?status=claimed", status_code=303)


@router.post("/reviews/{review_id}/resolve")
async def resolve(
    request: Request, session: InvestigatorDep, services: ServicesDep, review_id: str
) -> HTMLResponse:
    fields = form(request)
    label = fields.get("label", "")
    if label not in LABELS:
        raise ConsoleRefused(422, f"label must be one of {', '.join(LABELS)}")
    actor = Actor(session.key_id, session.name)
    queue = services.reviews
    done = await run_in_threadpool(
        queue.resolve, review_id, actor, label, fields.get("note", "")[:2000]
    )
    # Answered in place (not a redirect) so the label's effect, which only the resolution
    # returns, can be shown.
    return await _queue_page(request, session, services, "open", resolved=done)


# -- analysts ------------------------------------------------------------------------------------
@router.get("/analysts")
async def analysts_page(request: Request, session: AnalystDep) -> HTMLResponse:
    catalogue = [inv.as_dict() for inv in analysts.catalogue().values()]
    return page(request, "analysts.html", session, investigations=catalogue, result=None, query="")


@router.post("/analysts")
async def run_cypher(request: Request, session: AnalystDep, services: ServicesDep) -> HTMLResponse:
    fields = form(request)
    settings = services.settings
    catalogue = [inv.as_dict() for inv in analysts.catalogue().values()]
    query = fields.get("query", "")
    name = fields.get("investigation", "")
    error = None
    result = None
    try:
        if name:
            params = orjson.loads(fields.get("params") or "{}")
            ran = await run_in_threadpool(
                analysts.run_investigation,
                services.store,
                name,
                params,
                timeout_s=settings.analyst_timeout_s,
                row_cap=settings.analyst_row_cap,
            )
        else:
            ran = await run_in_threadpool(
                analysts.run_query,
                services.store,
                query,
                {},
                timeout_s=settings.analyst_timeout_s,
                row_cap=settings.analyst_row_cap,
            )
        result = asdict(ran)
    except (RingwatchError, orjson.JSONDecodeError) as e:
        error = getattr(e, "message", str(e))
    return page(
        request,
        "analysts.html",
        session,
        investigations=catalogue,
        result=result,
        query=query,
        error=error,
        http_status=200 if error is None else 400,
    )


def install(app: FastAPI) -> None:
    """Routes, the refusal pages, and the headers every console answer carries."""
    app.include_router(router)

    @app.exception_handler(ConsoleRefused)
    async def refused(request: Request, exc: ConsoleRefused) -> Response:
        if request.url.path.endswith((".json", ".csv")) or "/graph/" in request.url.path:
            return JSONResponse({"error": exc.message}, status_code=exc.status_code)
        return page(
            request,
            "refused.html",
            None,
            http_status=exc.status_code,
            message=exc.message,
            code=exc.status_code,
        )

    app.add_middleware(ConsoleHeaders)


# No inline script or style anywhere: an injected <script> has nowhere to run.
_CONSOLE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data: blob:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class ConsoleHeaders:
    """The headers every console answer carries, as a bare ASGI middleware.

    `@app.middleware("http")` (Starlette's BaseHTTPMiddleware) wrapped EVERY request, the API's
    too, in a task group and a copied response stream: about a fifth of the event loop's CPU per
    decision. This one passes any other path straight through and only edits the start message
    of a console answer.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                for name, value in _CONSOLE_HEADERS.items():
                    headers[name] = value
                headers["Cache-Control"] = headers.get("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


__all__ = ["ANALYSTS", "INVESTIGATORS", "install", "router"]
