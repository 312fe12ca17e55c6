"""``/api/booking/reservations``: one reservation in roomline's own shape, and what
happens to it at the door (check in, end early, extend), all on the event loop
(``HotPaths``: asyncpg on PostgreSQL), as the Ultimo workflows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from roomline.api.booking.access import Caller, grant
from roomline.api.booking.shapes import BookedReservation, reservation_json
from roomline.api.management.common import database_errors
from roomline.compat.ultimo.wire import ultimo_id as parse_ultimo_id
from roomline.domain.checkin import MAX_EXTEND_MINUTES
from roomline.domain.errors import RecordNotFound, UnknownReservation
from roomline.services.door import DoorService
from roomline.services.reservation_listing import ListedReservation, one_reservation_on
from roomline.storage.hotpath import HotPath, HotPaths

router = APIRouter()


@router.get("/reservations/{ultimo_id}", response_model=BookedReservation)
async def get_reservation(
    request: Request,
    ultimo_id: str,
    caller: Caller = Depends(grant("REST_GetReservationsForSpace")),
) -> dict[str, Any]:
    """Read one reservation, active or cancelled (grant `get`)."""
    number = parse_ultimo_id(ultimo_id)
    zone = request.app.state.settings.default_time_zone
    hot: HotPaths = request.app.state.ultimo.hot
    # On the event loop, as the Ultimo Get: one statement after the key's.
    with database_errors(), _named_in_path():
        listed = await hot.read(lambda path: one_reservation_on(path, number, default_zone=zone))
    return _answer(listed)


# At the door (issue 18): grant ``checkin``; the rules are domain/checkin.py.

NOT_OPEN_EXAMPLE = {
    "message": "Check-in for reservation 00000006712 opens at 2030-01-07T08:45:00+01:00, "
    "15 minutes before its start.",
    "code": "CheckInNotOpen",
    "details": [{"opens_at": "2030-01-07T08:45:00+01:00"}],
}
EXTEND_CONFLICT_EXAMPLE = {
    "message": "Room reservation cannot be requested or processed.\r\nCause: C-25 is not "
    "available.",
    "code": "1015",
    "details": [
        {
            "next_ultimo_id": "00000006713",
            "next_start": "2030-01-07T10:00:00+13:00",
            "next_start_including_preparation": "2030-01-07T09:45:00+13:00",
            "free_until": "2030-01-07T09:40:00+13:00",
        }
    ],
}


class Extension(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"minutes": 15}]})

    minutes: int = Field(..., ge=1, le=MAX_EXTEND_MINUTES, description="how much later it ends")


async def _at_the_door(
    request: Request, number: int, use_case: Callable[[DoorService, HotPath], Awaitable[None]]
) -> dict[str, Any]:
    """Run a door use case on the event loop (``HotPaths.write``), then answer the
    reservation as it is now."""
    door: DoorService = request.app.state.door
    hot: HotPaths = request.app.state.ultimo.hot
    zone = request.app.state.settings.default_time_zone
    with database_errors(), _named_in_path():
        await hot.write(lambda path: use_case(door, path))
        listed = await hot.read(lambda path: one_reservation_on(path, number, default_zone=zone))
    return _answer(listed)


@contextmanager
def _named_in_path() -> Iterator[None]:
    """An unknown reservation named by the path is a 404, as for any resource."""
    try:
        yield
    except UnknownReservation as exc:
        raise RecordNotFound(exc.message) from exc


def _answer(listed: ListedReservation) -> dict[str, Any]:
    return reservation_json(listed.reservation, listed.applicant_name, listed.time_zone)


@router.post(
    "/reservations/{ultimo_id}/check-in",
    response_model=BookedReservation,
    responses={400: {"content": {"application/json": {"example": NOT_OPEN_EXAMPLE}}}},
)
async def check_in(
    request: Request, ultimo_id: str, caller: Caller = Depends(grant("checkin"))
) -> dict[str, Any]:
    """Check in at the door: records who (the key's name) and when.

    Check-in opens the space's `check_in_opens_minutes` before the start and closes when
    the reservation ends or, where the space requires check-in, `auto_release_minutes`
    after its start (`CheckInNotOpen`, `CheckInClosed`; `ReservationReleased`,
    `ReservationCancelled`). A second check-in changes nothing and answers the first's
    time.
    """
    number = parse_ultimo_id(ultimo_id)
    return await _at_the_door(
        request, number, lambda door, path: door.check_in_on(path, number, caller.actor)
    )


@router.post("/reservations/{ultimo_id}/end", response_model=BookedReservation)
async def end_early(
    request: Request, ultimo_id: str, caller: Caller = Depends(grant("checkin"))
) -> dict[str, Any]:
    """End a running reservation now: its end becomes now, its cleanup follows, and the
    rest of the slot is free (`ReservationNotRunning` before it starts, `1166` after it
    ended)."""
    number = parse_ultimo_id(ultimo_id)
    return await _at_the_door(
        request, number, lambda door, path: door.end_early_on(path, number, caller.actor)
    )


@router.post(
    "/reservations/{ultimo_id}/extend",
    response_model=BookedReservation,
    responses={400: {"content": {"application/json": {"example": EXTEND_CONFLICT_EXAMPLE}}}},
)
async def extend(
    request: Request,
    ultimo_id: str,
    body: Extension,
    caller: Caller = Depends(grant("checkin")),
) -> dict[str, Any]:
    """Move the end `minutes` later if the room is free for it (with cleanup and the next
    reservation's preparation); otherwise `1015` with the next reservation's start and
    how far it could go (`free_until`) in `details`."""
    number = parse_ultimo_id(ultimo_id)
    return await _at_the_door(
        request,
        number,
        lambda door, path: door.extend_on(path, number, body.minutes, caller.actor),
    )
