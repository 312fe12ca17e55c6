"""The web view: server-rendered pages for facility staff, and the door panel.

``install_web(app)`` adds it to the app: the routes, the static files (served by roomline
itself, so the pages work offline), and sessions on ``/web`` paths only.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from roomline.config import Settings
from roomline.services.web_sessions import WebSessionStore
from roomline.storage.database import Database
from roomline.web import (
    auth,
    feeds,
    find,
    keys,
    manage,
    panel,
    reports,
    series,
    timeline,
    webhooks,
)
from roomline.web.pages import HERE, render
from roomline.web.session import (
    SESSION_MAX_AGE,
    CsrfRejected,
    SignInRequired,
    WebSessions,
    sign_in_url,
)

STATIC_PATH = "/web/static"


def install_web(app: FastAPI, settings: Settings, database: Database) -> None:
    """Add the web view and the door panel to ``app``."""
    app.state.web_sessions = sessions = WebSessionStore(
        database, settings.admin_token, SESSION_MAX_AGE
    )
    app.mount(STATIC_PATH, StaticFiles(directory=str(HERE / "static")), name="web-static")
    for part in (auth, timeline, series, find, manage, keys, webhooks, feeds, reports, panel):
        app.include_router(part.router)
    app.add_exception_handler(SignInRequired, _to_sign_in)
    app.add_exception_handler(CsrfRejected, _csrf_rejected)
    app.add_middleware(WebSessions, sessions=sessions)

    @app.get("/", include_in_schema=False)
    async def home() -> Response:
        return RedirectResponse("/web/", status_code=307)


async def _to_sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    return RedirectResponse(sign_in_url(exc.next_url), status_code=303)


async def _csrf_rejected(request: Request, exc: Exception) -> HTMLResponse:
    return render(request, "csrf.html", status=403)
