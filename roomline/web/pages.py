"""Rendering pages: the Jinja2 environment, its filters, and the page helpers every route uses.

Templates autoescape everything; times are shown in the zone a page says it uses.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData
from starlette.templating import Jinja2Templates

from roomline import __version__
from roomline.api.errors import status_for
from roomline.api.observability import request_info
from roomline.domain.errors import RoomlineError
from roomline.services.audit import Actor
from roomline.services.reservations import ReservationService
from roomline.storage.database import Database
from roomline.web import session

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


def _local(instant: datetime | None, zone: ZoneInfo, pattern: str = "%Y-%m-%d %H:%M") -> str:
    return "" if instant is None else instant.astimezone(zone).strftime(pattern)


def _ultimo(ultimo_id: int) -> str:
    return f"{ultimo_id:011d}"


def _segment(text: str) -> str:
    """Quote one path segment (ids may hold '/', spaces, anything printable)."""
    return quote(text, safe="")


templates.env.filters.update(local=_local, ultimo=_ultimo, segment=_segment)
templates.env.globals.update(version=__version__)


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render template ``name``; pages are never cached (they may show secrets)."""
    context.update(
        csrf_field=session.CSRF_FIELD,
        csrf_token=session.csrf_token(request),
        flash=session.take_flash(request),
        signed_in=session.signed_in(request),
        path=request.url.path,
    )
    return templates.TemplateResponse(
        request, name, context, status_code=status, headers={"Cache-Control": "no-store"}
    )


def render_plain(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a page outside the signed-in web view (no session, no CSRF token)."""
    return templates.TemplateResponse(
        request, name, context, status_code=status, headers={"Cache-Control": "no-store"}
    )


def problem(request: Request, exc: RoomlineError) -> HTMLResponse:
    """Render a rejection as a page with its status, message and code."""
    return render(request, "problem.html", status=status_for(exc), error=exc)


def redirect(url: str) -> RedirectResponse:
    """See other: after a POST, the browser GETs ``url`` (so reloading repeats nothing)."""
    return RedirectResponse(url, status_code=303)


def database(request: Request) -> Database:
    db: Database = request.app.state.database
    return db


def reservations(request: Request) -> ReservationService:
    service: ReservationService = request.app.state.reservations
    return service


def web_zone(request: Request) -> ZoneInfo:
    """The zone the web view takes "today" and the clock in (``Settings.web_view_zone``)."""
    return ZoneInfo(request.app.state.settings.web_view_zone)


def with_query(path: str, **params: Any) -> str:
    """Return ``path`` with the non-empty ``params`` as its query string."""
    kept = {name: value for name, value in params.items() if value not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


templates.env.globals.update(with_query=with_query)


_MINUTE_PRECISION = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
# The booking dialog's fields of a reservation (and of a series' first occurrence).
NEW_FIELDS = ("space_id", "applicant_id", "description", "start", "end")


def actor(request: Request) -> Actor:
    """The audit trail's "who" for a change made in the web view (no API key)."""
    info = request_info(request.scope)
    return Actor(None, info.client_address, "web", info.request_id)


def wall_clock(text: str) -> str:
    """Complete a ``datetime-local`` value (minutes only) with seconds; keep anything else."""
    text = text.strip()
    return f"{text}:00" if _MINUTE_PRECISION.fullmatch(text) else text


def form_text(form: FormData, name: str) -> str:
    """A form field's value, stripped; "" when absent."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""
