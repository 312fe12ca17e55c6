"""The reads behind finding a room: free spaces, schedules and slots, bounded by index.

Active blocked intervals of one space never overlap (the database refuses it), so of the
blocks starting before some instant only the latest can reach past it. Every query here
starts there: whether a space is free over a window is one seek per space on
``ix_reservations_active_blocks`` (active reservations only, (space_id, blocked_start,
blocked_end)), answered from the index alone, however long the space's history is.

A space's own preparation and cleanup widen the window it must be free over, so the
bounds are computed per space inside the query (``minutes_after``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    func,
    literal_column,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from roomline.domain.availability import SpaceFilter
from roomline.domain.reservations import Interval, Space
from roomline.storage.masterdata import space_from_row
from roomline.storage.tables import UTCDateTime, people, reservations, spaces

# A literal, not a parameter: both databases use a partial index only when the query's
# condition visibly implies the index's own.
ACTIVE = reservations.c.status == literal_column("'Processed'")


class minutes_after(FunctionElement[datetime]):
    """``instant + minutes`` (minutes may be negative), for a stored UTC instant."""

    type = UTCDateTime()
    inherit_cache = True
    name = "minutes_after"


@compiles(minutes_after, "sqlite")
def _minutes_after_sqlite(element: minutes_after, compiler: SQLCompiler, **kw: Any) -> str:
    # Instants are text ``YYYY-MM-DD HH:MM:SS.ffffff``: shift the whole seconds with
    # strftime and keep the fraction, which whole minutes never change.
    instant, minutes = (compiler.process(clause, **kw) for clause in element.clauses)
    return (
        f"(strftime('%Y-%m-%d %H:%M:%S', {instant}, ({minutes}) || ' minutes')"
        f" || substr({instant}, 20))"
    )


@compiles(minutes_after, "postgresql")
def _minutes_after_postgresql(element: minutes_after, compiler: SQLCompiler, **kw: Any) -> str:
    instant, minutes = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"({instant} + make_interval(mins => {minutes}))"


def _instant(name: str) -> Any:
    return bindparam(name, type_=UTCDateTime())


def _matching(wanted: SpaceFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [spaces.c.bookable.is_(True)]
    if wanted.capacity is not None:
        conditions.append(spaces.c.capacity >= wanted.capacity)
    if wanted.building is not None:
        conditions.append(func.lower(spaces.c.building) == wanted.building.lower())
    if wanted.floor is not None:
        conditions.append(func.lower(spaces.c.floor) == wanted.floor.lower())
    for feature in wanted.features:
        # Tags hold only [a-z0-9-], so none is a LIKE wildcard.
        padded = literal_column("','") + spaces.c.features + literal_column("','")
        conditions.append(padded.like(f"%,{feature},%"))
    return conditions


def _zone(default_zone: str) -> ColumnElement[str]:
    return func.coalesce(spaces.c.time_zone, default_zone)


def matching_spaces(conn: Connection, wanted: SpaceFilter) -> list[Space]:
    """Return the bookable spaces ``wanted`` describes, in no particular order."""
    return [space_from_row(row) for row in conn.execute(select(spaces).where(*_matching(wanted)))]


def zones_of_matching(conn: Connection, wanted: SpaceFilter, default_zone: str) -> list[str]:
    """Return the time zones (``default_zone`` for spaces without one) of those spaces."""
    query = select(_zone(default_zone)).where(*_matching(wanted)).distinct()
    return sorted(conn.execute(query).scalars())


def free_spaces(
    conn: Connection,
    wanted: SpaceFilter,
    start: datetime,
    end: datetime,
    *,
    zone: str | None = None,
    default_zone: str = "UTC",
) -> list[Space]:
    """Return the bookable spaces ``wanted`` describes (in ``zone`` if given) that could
    take a reservation over ``[start, end)``: with their own preparation and cleanup
    around it, it overlaps no active block."""
    window_start = minutes_after(_instant("start"), -spaces.c.preparation_minutes)
    window_end = minutes_after(_instant("end"), spaces.c.cleanup_minutes)
    latest_block_end = (
        select(reservations.c.blocked_end)
        .where(
            reservations.c.space_id == spaces.c.id,
            ACTIVE,
            reservations.c.blocked_start < window_end,
        )
        .order_by(reservations.c.blocked_start.desc())
        .limit(1)
        .scalar_subquery()
    )
    conditions = _matching(wanted)
    if zone is not None:
        conditions.append(_zone(default_zone) == zone)
    query = select(spaces).where(
        *conditions, func.coalesce(latest_block_end, window_start) <= window_start
    )
    rows = conn.execute(query, {"start": start, "end": end})
    return [space_from_row(row) for row in rows]


def spaces_named(conn: Connection, ids: Sequence[str]) -> dict[str, Space]:
    """Return the spaces of those ids that exist (bookable or not), by id."""
    rows = conn.execute(select(spaces).where(spaces.c.id.in_(list(ids)))) if ids else []
    return {row.id: space_from_row(row) for row in rows}


def _overlapping(window_start: Any, window_end: Any) -> list[ColumnElement[bool]]:
    """Active blocks of the space ``:space_id`` overlapping the window, bounded by index."""
    own = and_(reservations.c.space_id == bindparam("space_id"), ACTIVE)
    latest_before = (
        select(reservations.c.blocked_start)
        .where(own, reservations.c.blocked_start < window_start)
        .order_by(reservations.c.blocked_start.desc())
        .limit(1)
        .scalar_subquery()
    )
    return [
        own,
        reservations.c.blocked_start >= func.coalesce(latest_before, window_start),
        reservations.c.blocked_start < window_end,
        reservations.c.blocked_end > window_start,
    ]


class ScheduledItem(NamedTuple):
    ultimo_id: int
    start: datetime
    end: datetime
    blocked_start: datetime
    blocked_end: datetime
    description: str
    applicant_name: str


_SCHEDULE: Select[Any] = (
    select(
        reservations.c.ultimo_id,
        reservations.c.start_time,
        reservations.c.end_time,
        reservations.c.blocked_start,
        reservations.c.blocked_end,
        reservations.c.description,
        people.c.name,
    )
    .join(people, people.c.id == reservations.c.applicant_id)
    .where(*_overlapping(_instant("start"), _instant("end")))
    .order_by(reservations.c.blocked_start)
)
_BLOCKS: Select[Any] = (
    select(reservations.c.blocked_start, reservations.c.blocked_end)
    .where(*_overlapping(_instant("start"), _instant("end")))
    .order_by(reservations.c.blocked_start)
)


def scheduled(
    conn: Connection, space_id: str, start: datetime, end: datetime
) -> list[ScheduledItem]:
    """Return the active reservations of a space whose blocked interval overlaps
    ``[start, end)``, by blocked start."""
    rows = conn.execute(_SCHEDULE, {"space_id": space_id, "start": start, "end": end})
    return [ScheduledItem(*row) for row in rows]


def blocks(conn: Connection, space_id: str, start: datetime, end: datetime) -> list[Interval]:
    """Return the active blocked intervals of a space overlapping ``[start, end)``, sorted."""
    rows = conn.execute(_BLOCKS, {"space_id": space_id, "start": start, "end": end})
    return [Interval(row.blocked_start, row.blocked_end) for row in rows]
