"""The door panel: a page for a tablet beside one space's door.

The page itself is a static shell that reveals nothing. Its script authenticates with an
API key (kept in the tablet's localStorage, never the admin token), reads the space, its
check-in rules, which of its reservations are checked in, and the server's clock from
``/api/panel/{space}``, then calls the real APIs: ``REST_GetReservationsForSpace`` to show
the state, ``REST_CreateReservation`` to book now, ``/api/booking/reservations/{id}/
check-in|end|extend`` at the door, and ``/api/booking/changes/stream`` to hear of every
change at once. A panel's key needs the grants get, create, checkin and changes, and
nothing else; give it the tablet's address as its IP allow-list to tie it to the tablet.

Live updates: a browser's ``EventSource`` cannot send the ``ApiKey`` header, so the
script reads the SSE stream with ``fetch()`` and a ``ReadableStream`` (which can), and
refreshes when an event comes. While the stream is down it polls every ``refresh``
seconds and reconnects with back-off; when nothing answers it shows "Offline" and
recovers by itself (docs/door-panels.md).

``/panel/{space}/qr.svg`` is a QR code (drawn with segno) of the web view's booking page
for the space, so a person at the door can book from a phone.
"""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from roomline.api.admin import is_admin_token
from roomline.api.errors import error_response, status_for
from roomline.api.observability import request_info
from roomline.compat.ultimo import wire
from roomline.config import Settings
from roomline.domain.errors import AdminTokenNotAKey, MissingApiKey, RoomlineError, UnknownSpace
from roomline.domain.times import format_instant
from roomline.services.keys import authenticate
from roomline.services.reservations import ReservationService
from roomline.storage import masterdata
from roomline.storage.reservations import checked_in_between
from roomline.web.blocking import run
from roomline.web.pages import render_plain
from roomline.web.params import whole_number

router = APIRouter(include_in_schema=False)
# The window a panel shows (as its script asks Get for): 12 hours back, 36 ahead.
PANEL_REACH_BACK = timedelta(hours=12)
PANEL_REACH_AHEAD = timedelta(hours=36)


# Before the page's route: its path parameter would take "…/qr.svg" too.
@router.get("/panel/{space_id:path}/qr.svg")
async def panel_qr(request: Request, space_id: str) -> Response:
    """A QR code of the web view's booking page for ``space_id`` (nothing secret: the
    page itself asks a person to sign in)."""
    buffer = io.BytesIO()
    segno.make(booking_url(request, space_id), error="m").save(
        buffer, kind="svg", scale=8, border=2, dark="#0d1320", light="#ffffff"
    )
    return Response(
        buffer.getvalue(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=3600"},
    )


def booking_url(request: Request, space_id: str) -> str:
    """The web view's booking page for ``space_id``: its week, with the booking form."""
    return f"{str(request.base_url).rstrip('/')}/web/spaces/{quote(space_id, safe='')}/week"


@router.get("/panel/{space_id:path}", response_class=HTMLResponse)
async def panel_page(request: Request, space_id: str) -> Response:
    """The panel for ``space_id``; ``?refresh=`` sets its refresh interval in seconds."""
    try:
        seconds = whole_number("refresh", request.query_params.get("refresh", "30"), 5, 3600)
    except RoomlineError as exc:
        return render_plain(request, "problem.html", status=status_for(exc), error=exc)
    return render_plain(request, "panel.html", space_id=space_id, refresh=seconds)


@router.get("/api/panel/{space_id:path}")
async def panel_state(request: Request, space_id: str) -> Response:
    """The space and the server's clock, for a panel holding an API key that may call Get."""
    try:
        body = await run(
            _state,
            request.app.state.reservations,
            request.app.state.settings,
            space_id,
            request.headers.get("apikey"),
            request_info(request.scope).client_address,
        )
        body["booking_url"] = booking_url(request, space_id)
    except RoomlineError as exc:
        return error_response(exc, request.url.path)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def _state(
    service: ReservationService,
    settings: Settings,
    space_id: str,
    api_key: str | None,
    client_address: str | None,
) -> dict[str, Any]:
    element_ids = settings.application_element_ids
    with service.database.read() as conn:
        try:
            key = authenticate(conn, api_key, wire.GET, client_address)
        except MissingApiKey:
            # Staff who know the admin token try it first; say what the panel needs instead.
            if is_admin_token(settings.admin_token, api_key):
                raise AdminTokenNotAKey() from None
            raise
        space = masterdata.get_space(conn, space_id)
        if space is None:
            raise UnknownSpace(f"SpaceId {space_id!r} is not a known space.")
        now = service.clock.now(conn)
        checked_in = checked_in_between(
            conn, space.id, now - PANEL_REACH_BACK, now + PANEL_REACH_AHEAD
        )
    zone = service.zone_of(space)
    return {
        "space_id": space.id,
        "description": space.description,
        "time_zone": zone.key,
        "now": format_instant(now, zone),
        "preparation_minutes": space.preparation_minutes,
        "cleanup_minutes": space.cleanup_minutes,
        "bookable": space.bookable,
        "start_grace_minutes": int(service.policy.start_grace.total_seconds() // 60),
        "check_in": {
            "required": space.check_in_required,
            "opens_minutes": space.check_in_opens_minutes,
            "auto_release_minutes": space.auto_release_minutes,
        },
        # The active reservations around now that someone checked into, by UltimoId.
        "checked_in": {
            f"{number:011d}": format_instant(at, zone) for number, at in checked_in.items()
        },
        # What the key may do beyond Get, so the panel offers only what will work.
        "grants": {
            grant: key.workflows is None or grant in key.workflows
            for grant in (wire.CREATE, "checkin", "changes")
        },
        "application_element_ids": {
            wire.GET: element_ids[wire.GET],
            wire.CREATE: element_ids[wire.CREATE],
        },
    }
