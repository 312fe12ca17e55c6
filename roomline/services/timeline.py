"""What the web view's timeline, week view and reservation page show.

Read-only use cases, each one read transaction that also reads the server's clock (the
demo clock in demo mode), so a page's "now" line and its reservations agree. A space's
day runs from its local midnight to the next one in its own time zone: 23 or 25 hours
long on daylight-saving days. Writes go through ``ReservationService`` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from roomline.domain.errors import InvalidParameter, RecordNotFound, UnknownReservation
from roomline.domain.reservations import Reservation, Space
from roomline.services.reservations import ReservationService
from roomline.storage import masterdata
from roomline.storage import reservations as reservation_store
from roomline.storage import timeline as store

MAX_ROWS = 200
STATES = ("all", "free", "busy")


@dataclass(frozen=True, slots=True)
class Entry:
    reservation: Reservation
    applicant_name: str


@dataclass(frozen=True, slots=True)
class SpaceDay:
    """One space over one local day: ``[start, end)`` are the UTC instants of its midnights."""

    space: Space
    zone: ZoneInfo
    day: date
    start: datetime
    end: datetime
    entries: list[Entry]

    def current(self, now: datetime) -> Entry | None:
        """Return the reservation running at ``now``, if any."""
        for entry in self.entries:
            if entry.reservation.is_running(now):
                return entry
        return None


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    now: datetime
    rows: list[SpaceDay]
    matching: int  # spaces matching the search, before the cut at MAX_ROWS


@dataclass(frozen=True, slots=True)
class Week:
    space: Space
    zone: ZoneInfo
    now: datetime
    days: list[SpaceDay]


@dataclass(frozen=True, slots=True)
class Details:
    entry: Entry
    space: Space
    zone: ZoneInfo
    now: datetime


def local_day(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Return the instants of ``day``'s local midnight in ``zone`` and of the next one."""
    start = datetime.combine(day, time(), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def matches(space: Space, search: str) -> bool:
    """Return whether every word of ``search`` occurs in the space's id or description."""
    haystack = f"{space.id} {space.description}".casefold()
    return all(word in haystack for word in search.casefold().split())


def day_view(
    service: ReservationService,
    day: date | None,
    home_zone: ZoneInfo,
    search: str = "",
    state: str = "all",
    limit: int = MAX_ROWS,
) -> Day:
    """Return every space matching ``search`` (and free or busy now, per ``state``) on ``day``.

    No ``day`` means today by the server's clock in ``home_zone``, the web view's zone.
    """
    if state not in STATES:
        raise InvalidParameter(f"state {state[:20]!r} is not one of {', '.join(STATES)}.")
    with service.database.read() as conn:
        now = service.clock.now(conn)
        day = day or now.astimezone(home_zone).date()
        spaces = [s for s in masterdata.list_spaces(conn) if matches(s, search)]
        rows = _space_days(conn, service, spaces, [day], now)
    if state != "all":
        rows = [row for row in rows if (row.current(now) is not None) == (state == "busy")]
    return Day(day, now, rows[:limit], len(rows))


def week_view(service: ReservationService, space_id: str, day: date | None) -> Week:
    """Return the week (Monday to Sunday, in the space's zone) of ``day`` for one space."""
    with service.database.read() as conn:
        space = masterdata.get_space(conn, space_id)
        if space is None:
            raise RecordNotFound(f"There is no space {space_id!r}.")
        zone = service.zone_of(space)
        now = service.clock.now(conn)
        day = day or now.astimezone(zone).date()
        monday = day - timedelta(days=day.weekday())
        days = [monday + timedelta(days=offset) for offset in range(7)]
        rows = _space_days(conn, service, [space], days, now)
    return Week(space, zone, now, rows)


def details(service: ReservationService, ultimo_id: int) -> Details:
    """Return one reservation (active or cancelled) with its space and the server's time."""
    with service.database.read() as conn:
        row = store.with_applicant(conn, ultimo_id)
        if row is None:
            raise UnknownReservation(f"UltimoId {ultimo_id:011d} is not a known reservation.")
        space = masterdata.get_space(conn, row.space_id)
        assert space is not None  # a foreign key keeps it
        now = service.clock.now(conn)
    entry = Entry(reservation_store.reservation_from_row(row), row.applicant_name)
    return Details(entry, space, service.zone_of(space), now)


def _space_days(
    conn: Connection,
    service: ReservationService,
    spaces: list[Space],
    days: list[date],
    now: datetime,
) -> list[SpaceDay]:
    """Return one SpaceDay per (space, day), reading all their reservations in one query."""
    if not spaces:
        return []
    windows = {
        (space.id, day): local_day(day, service.zone_of(space)) for space in spaces for day in days
    }
    start = min(window[0] for window in windows.values())
    end = max(window[1] for window in windows.values())
    by_space: dict[str, list[Entry]] = {}
    for row in store.blocking(conn, [space.id for space in spaces], start, end):
        entry = Entry(reservation_store.reservation_from_row(row), row.applicant_name)
        by_space.setdefault(entry.reservation.space_id, []).append(entry)
    result = []
    for space in spaces:
        for day in days:
            day_start, day_end = windows[(space.id, day)]
            entries = [
                entry
                for entry in by_space.get(space.id, [])
                if entry.reservation.blocked.start < day_end
                and entry.reservation.blocked.end > day_start
            ]
            zone = service.zone_of(space)
            result.append(SpaceDay(space, zone, day, day_start, day_end, entries))
    return result
