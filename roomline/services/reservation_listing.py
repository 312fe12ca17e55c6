"""Listing reservations for the people who run the rooms (not the Ultimo Get workflow).

Unlike Get it spans every space, shows cancelled reservations too, and leaves either end
of the window open. Wall-clock times in the filter are read in the space's zone when one
space is asked for, else in the server's default zone. A list longer than ``limit`` is
cut there and says so (``truncated``), never silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from roomline.domain.errors import InvalidParameter, UnknownReservation, UnknownSpace
from roomline.domain.reservations import Reservation, ReservationStatus, check_span
from roomline.domain.times import format_instant, parse_instant, zone_named
from roomline.storage import masterdata
from roomline.storage import reservations as store
from roomline.storage.database import Database
from roomline.storage.hotpath import HotPath
from roomline.storage.reservations import NamedReservation

DEFAULT_LIMIT = 1000
MAX_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class ListedReservation:
    reservation: Reservation
    applicant_name: str
    time_zone: str


@dataclass(frozen=True, slots=True)
class ReservationList:
    items: list[ListedReservation]
    truncated: bool


def status_named(text: str | None) -> ReservationStatus | None:
    """Read a status filter: Processed or Cancelled in any case; None or 'all' means both."""
    if text is None or text.strip().lower() in ("", "all"):
        return None
    for status in ReservationStatus:
        if status.value.lower() == text.strip().lower():
            return status
    raise InvalidParameter(
        f"Unknown status {text!r}; use {', '.join(s.value for s in ReservationStatus)} or all."
    )


def list_reservations(
    database: Database,
    *,
    default_zone: str,
    space_id: str | None = None,
    from_time: str | None = None,
    till_time: str | None = None,
    status: str | None = None,
    limit: int = DEFAULT_LIMIT,
    field_names: tuple[str, str] = ("from", "till"),
) -> ReservationList:
    """Return reservations overlapping ``[from_time, till_time)``, by start then UltimoId."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidParameter(f"limit must be between 1 and {MAX_LIMIT}, not {limit}.")
    wanted_status = status_named(status)
    with database.read() as conn:
        zone_name = default_zone
        if space_id is not None:
            space = masterdata.get_space(conn, space_id)
            if space is None:
                raise UnknownSpace(f"There is no space {space_id!r}.")
            zone_name = space.time_zone or default_zone
        zone = zone_named(zone_name)
        start = _instant(field_names[0], from_time, zone)
        end = _instant(field_names[1], till_time, zone)
        if start is not None and end is not None:
            check_span(start, end, field_names[0], field_names[1])
        rows = store.listing(
            conn,
            space_id=space_id,
            start=start,
            end=end,
            status=wanted_status,
            limit=limit + 1,
        )
    items = [
        ListedReservation(
            store.reservation_from_row(row), row.applicant_name, row.space_time_zone or default_zone
        )
        for row in rows[:limit]
    ]
    return ReservationList(items, truncated=len(rows) > limit)


def one_reservation(database: Database, ultimo_id: int, *, default_zone: str) -> ListedReservation:
    """Return the reservation ``ultimo_id`` (active or cancelled) with its applicant's name
    and its space's zone; UnknownReservation if there is none."""
    with database.read() as conn:
        found = store.named(conn, ultimo_id)
    return _shown(found, ultimo_id, default_zone)


async def one_reservation_on(
    path: HotPath, ultimo_id: int, *, default_zone: str
) -> ListedReservation:
    """``one_reservation`` over the hot paths: on the event loop, either database."""
    return _shown(await store.named_on(path, ultimo_id), ultimo_id, default_zone)


def _shown(found: NamedReservation | None, ultimo_id: int, default_zone: str) -> ListedReservation:
    if found is None:
        raise UnknownReservation(f"There is no reservation {ultimo_id:011d}.")
    return ListedReservation(
        found.reservation, found.applicant_name, found.space_zone or default_zone
    )


def reservation_values(listed: ListedReservation) -> dict[str, Any]:
    """Return a listed reservation as JSON-ready values, times in the space's zone."""
    reservation = listed.reservation
    zone = zone_named(listed.time_zone)
    blocked = reservation.blocked
    return {
        "ultimo_id": f"{reservation.ultimo_id:011d}",
        "space_id": reservation.space_id,
        "applicant_id": reservation.applicant_id,
        "applicant_name": listed.applicant_name,
        "description": reservation.description,
        "start": format_instant(reservation.start, zone),
        "end": format_instant(reservation.end, zone),
        "start_including_preparation": format_instant(blocked.start, zone),
        "end_including_cleanup": format_instant(blocked.end, zone),
        "status": reservation.status.value,
        "external_id": reservation.external_id,
    }


def _instant(field: str, text: str | None, zone: Any) -> datetime | None:
    if text is None or not text.strip():
        return None
    return parse_instant(field, text.strip(), zone)
