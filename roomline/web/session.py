"""Signing in to the web view, and its CSRF protection.

The admin token signs a person in (checked by ``api/admin.AdminAccess``, as for the
API). The session's data lives in a signed cookie (``SessionMiddleware``, itsdangerous)
whose key is the instance's random key from the database; whether it is signed in is
decided by the database (``services/web_sessions.py``), so signing out ends every copy
of the cookie. The cookie is scoped to ``/web`` and the session middleware runs only
there: the Ultimo API never reads a session nor answers with ``Set-Cookie``.

Every form carries the session's CSRF token in a hidden field, and every POST is refused
(403) unless it matches, compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
import time
from urllib.parse import quote

from fastapi import Request
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roomline.services.web_sessions import WebSessionStore
from roomline.web.blocking import run

WEB_PREFIX = "/web"
PANEL_PREFIX = "/panel/"
STATIC_PREFIX = "/web/static/"
SESSION_COOKIE = "roomline_web"
SESSION_MAX_AGE = 12 * 60 * 60  # renewed while in use (at most once a minute)
RENEW_AFTER = 60
CSRF_FIELD = "csrf_token"

# Pages load scripts and styles only from roomline itself (no CDN, nothing inline but
# the style attributes that place blocks on a track), and are never framed.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
        b"base-uri 'none'; form-action 'self'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class SignInRequired(Exception):
    """The page needs a signed-in session; the handler redirects to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class CsrfRejected(Exception):
    """A POST without the session's CSRF token."""


def is_web_path(path: str) -> bool:
    return path == WEB_PREFIX or path.startswith(WEB_PREFIX + "/")


class WebSessions:
    """Run sessions and add security headers on web paths only; pass everything else by.

    The check is one string comparison, so the Ultimo API's hot path pays nothing. The
    cookie-signing key is read from the database on the first web request.
    """

    def __init__(self, app: ASGIApp, sessions: WebSessionStore) -> None:
        self.app = app
        self.sessions = sessions
        self.with_sessions: ASGIApp | None = None

    async def _sessions_app(self) -> ASGIApp:
        if self.with_sessions is None:
            self.with_sessions = SessionMiddleware(
                self.app,
                secret_key=await run(self.sessions.cookie_key),
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_MAX_AGE,
                path=WEB_PREFIX,
                same_site="lax",
            )
        return self.with_sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(STATIC_PREFIX):
            await self.app(scope, receive, send)
        elif is_web_path(path):
            with_sessions = await self._sessions_app()
            await with_sessions(scope, receive, _with_security_headers(send))
        elif path.startswith(PANEL_PREFIX):
            await self.app(scope, receive, _with_security_headers(send))
        else:
            await self.app(scope, receive, send)


def _with_security_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *SECURITY_HEADERS]}
        await send(message)

    return wrapped


def csrf_token(request: Request) -> str:
    """Return the session's CSRF token, making one on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def _store(request: Request) -> WebSessionStore:
    store: WebSessionStore = request.app.state.web_sessions
    return store


def signed_in(request: Request) -> bool:
    """Whether this request was found signed in (by ``check_signed_in``)."""
    return getattr(request.state, "signed_in", False) is True


async def check_signed_in(request: Request) -> bool:
    """Ask the database whether the cookie's session is signed in; remember the answer."""
    if not hasattr(request.state, "signed_in"):
        session_id = request.session.get("sid")
        request.state.signed_in = isinstance(session_id, str) and await run(
            _store(request).active, session_id
        )
    return signed_in(request)


async def sign_in(request: Request) -> None:
    """Start a fresh signed-in session (a new id and CSRF token, nothing kept from before)."""
    await sign_out(request)
    session_id = await run(_store(request).start)
    request.session.update(sid=session_id, csrf=secrets.token_urlsafe(32), renewed=int(time.time()))
    request.state.signed_in = True


async def sign_out(request: Request) -> None:
    """End the session in the database, so no copy of the cookie opens it again."""
    session_id = request.session.get("sid")
    if isinstance(session_id, str):
        await run(_store(request).end, session_id)
    request.session.clear()
    request.state.signed_in = False


async def require_signed_in(request: Request) -> None:
    """Refuse the page unless signed in; keep an active session alive."""
    if not await check_signed_in(request):
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        # After signing in, a form's address would answer 405 to the browser's GET.
        raise SignInRequired(target if request.method in ("GET", "HEAD") else WEB_PREFIX + "/")
    now = int(time.time())
    renewed = request.session.get("renewed")
    if not isinstance(renewed, int) or now - renewed >= RENEW_AFTER:
        request.session["renewed"] = now  # a changed session is sent again: a fresh max-age
        await run(_store(request).seen, request.session["sid"])


async def require_csrf(request: Request) -> None:
    """Refuse a POST whose form does not carry the session's CSRF token."""
    form = await request.form()
    given = form.get(CSRF_FIELD)
    expected = request.session.get("csrf")
    if not (
        isinstance(given, str)
        and isinstance(expected, str)
        and hmac.compare_digest(given.encode(), expected.encode())
    ):
        raise CsrfRejected()


def safe_next(target: str | None) -> str:
    """Return ``target`` if it is a web page of ours, else the timeline (no open redirects)."""
    if target and is_web_path(target) and not target.startswith("//") and "\\" not in target:
        return target
    return WEB_PREFIX + "/"


def sign_in_url(next_url: str) -> str:
    return f"{WEB_PREFIX}/login?next={quote(next_url, safe='/')}"


def flash(request: Request, message: str) -> None:
    """Show ``message`` once, on the next page."""
    request.session["flash"] = message


def take_flash(request: Request) -> str | None:
    if "flash" not in request.session:
        return None
    message = request.session.pop("flash")
    return message if isinstance(message, str) else None
