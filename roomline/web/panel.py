"""The door panel: a page for a tablet beside one space's door.

The page itself is a static shell that reveals nothing. Its script authenticates with an
Ultimo API key (kept in the tablet's localStorage, never the admin token), reads the
space and the server's clock from ``/api/panel/{space}``, then calls the real Ultimo
workflows: ``REST_GetReservationsForSpace`` to show the state, ``REST_CreateReservation``
to book now. A key for a panel needs only those two workflows; give it the tablet's
address as its IP allow-list to tie it to the tablet.
"""

from __future__ import annotations

from typing import Any

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
from roomline.storage.hotreads import CoreReads
from roomline.web.blocking import run
from roomline.web.pages import render_plain
from roomline.web.params import whole_number

router = APIRouter(include_in_schema=False)


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
            authenticate(CoreReads(conn), api_key, wire.GET, client_address)
        except MissingApiKey:
            # Staff who know the admin token try it first; say what the panel needs instead.
            if is_admin_token(settings.admin_token, api_key):
                raise AdminTokenNotAKey() from None
            raise
        space = masterdata.get_space(conn, space_id)
        if space is None:
            raise UnknownSpace(f"SpaceId {space_id!r} is not a known space.")
        now = service.clock.now(conn)
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
        "application_element_ids": {
            wire.GET: element_ids[wire.GET],
            wire.CREATE: element_ids[wire.CREATE],
        },
    }
