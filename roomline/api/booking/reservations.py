"""``/api/booking/reservations``: one reservation in roomline's own shape."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from roomline.api.booking.access import Caller, grant
from roomline.api.booking.shapes import BookedReservation, reservation_json
from roomline.api.management.common import database_errors
from roomline.compat.ultimo.wire import ultimo_id as parse_ultimo_id
from roomline.domain.errors import RecordNotFound, UnknownReservation
from roomline.services.reservation_listing import one_reservation

router = APIRouter()


@router.get("/reservations/{ultimo_id}", response_model=BookedReservation)
def get_reservation(
    request: Request,
    ultimo_id: str,
    caller: Caller = Depends(grant("REST_GetReservationsForSpace")),
) -> dict[str, Any]:
    """Read one reservation, active or cancelled (grant `get`)."""
    number = parse_ultimo_id(ultimo_id)
    with database_errors():
        try:
            listed = one_reservation(
                request.app.state.database,
                number,
                default_zone=request.app.state.settings.default_time_zone,
            )
        except UnknownReservation as exc:  # the path names it: 404, as for any resource
            raise RecordNotFound(exc.message) from exc
    return reservation_json(listed.reservation, listed.applicant_name, listed.time_zone)
