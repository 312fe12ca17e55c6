"""The JSON shapes roomline's own API answers with, shared by its operations."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from roomline.domain.reservations import Reservation
from roomline.domain.times import format_iso, zone_named


class BookedReservation(BaseModel):
    """A reservation as ``/api/booking`` shows it: times in the space's zone, with offset."""

    ultimo_id: str = Field(..., examples=["00000006712"])
    space_id: str = Field(..., examples=["C-25"])
    applicant_id: str = Field(..., examples=["ULTIMO"])
    applicant_name: str = Field(..., examples=["Fasse, J."])
    description: str
    start: str = Field(..., examples=["2030-01-07T09:00:00+13:00"])
    end: str = Field(..., examples=["2030-01-07T10:00:00+13:00"])
    blocked_start: str = Field(
        ...,
        description="start minus the space's preparation time",
        examples=["2030-01-07T08:45:00+13:00"],
    )
    blocked_end: str = Field(
        ..., description="end plus the space's cleanup time", examples=["2030-01-07T10:10:00+13:00"]
    )
    status: str = Field(..., description="Processed or Cancelled")
    checked_in_at: str | None = Field(
        None, description="when someone checked in at the door; null if nobody has"
    )
    checked_in_by: str | None = Field(
        None, description="the name of the API key that checked in", examples=["panel-c25"]
    )
    released_at: str | None = Field(
        None, description="when it was released because nobody checked in (then Cancelled)"
    )
    ended_at: str | None = Field(None, description="when it was ended early (its end then)")


def reservation_json(
    reservation: Reservation, applicant_name: str, time_zone: str
) -> dict[str, Any]:
    """Return ``reservation`` in the ``BookedReservation`` shape."""
    zone = zone_named(time_zone)
    blocked = reservation.blocked
    return {
        "ultimo_id": f"{reservation.ultimo_id:011d}",
        "space_id": reservation.space_id,
        "applicant_id": reservation.applicant_id,
        "applicant_name": applicant_name,
        "description": reservation.description,
        "start": format_iso(reservation.start, zone),
        "end": format_iso(reservation.end, zone),
        "blocked_start": format_iso(blocked.start, zone),
        "blocked_end": format_iso(blocked.end, zone),
        "status": reservation.status.value,
        "checked_in_at": _moment(reservation.checked_in_at, zone),
        "checked_in_by": reservation.checked_in_by,
        "released_at": _moment(reservation.released_at, zone),
        "ended_at": _moment(reservation.ended_at, zone),
    }


def _moment(instant: datetime | None, zone: ZoneInfo) -> str | None:
    return None if instant is None else format_iso(instant, zone)
