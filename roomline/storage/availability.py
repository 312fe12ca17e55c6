"""The reads behind finding a room: free spaces, schedules and slots, bounded by index.

Active blocked intervals of one space never overlap (the database refuses it), so of the
blocks starting before some instant only the latest can reach past it. Every query here
starts there: whether a space is free over a window is one seek per space on
``ix_reservations_active_blocks`` (active reservations only, (space_id, blocked_start,
blocked_end)), answered from the index alone, however long the space's history is.

A space's zone (for wall-clock times) and its own preparation and cleanup decide the
blocked interval it must be free over, so spaces are asked for in groups sharing those
(``groups_of_matching``), each group's bounds bound as plain parameters.

Every statement is built and compiled once (``DirectStatement``) and run through
``Reads``: in the caller's transaction on SQLite, on the event loop over asyncpg on
PostgreSQL (``/api/booking``), or through SQLAlchemy in a thread (CLI, web view).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, bindparam, func, literal_column, select

from roomline.domain.availability import SpaceFilter
from roomline.domain.reservations import Interval, Space
from roomline.storage.direct import DirectStatement, Reads, in_json_list, json_list
from roomline.storage.masterdata import space_from_row
from roomline.storage.tables import UTCDateTime, people, reservations, spaces

# A literal, not a parameter: both databases use a partial index only when the query's
# condition visibly implies the index's own.
ACTIVE = reservations.c.status == literal_column("'Processed'")


def _instant(name: str) -> Any:
    return bindparam(name, type_=UTCDateTime())


class _Shape(NamedTuple):
    """Which filters a search uses: statements are built once per shape, values bound."""

    capacity: bool
    building: bool
    floor: bool
    features: int


def _shape(wanted: SpaceFilter) -> _Shape:
    return _Shape(
        wanted.capacity is not None,
        wanted.building is not None,
        wanted.floor is not None,
        len(wanted.features),
    )


def _matching(shape: _Shape) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [spaces.c.bookable.is_(True)]
    if shape.capacity:
        conditions.append(spaces.c.capacity >= bindparam("capacity"))
    if shape.building:
        conditions.append(func.lower(spaces.c.building) == bindparam("building"))
    if shape.floor:
        conditions.append(func.lower(spaces.c.floor) == bindparam("floor"))
    for index in range(shape.features):
        padded: ColumnElement[str] = (
            literal_column("','") + spaces.c.features + literal_column("','")
        )
        conditions.append(padded.like(bindparam(f"feature_{index}")))
    return conditions


def _values(wanted: SpaceFilter) -> dict[str, Any]:
    """The values of ``_matching``'s parameters (only those the shape uses)."""
    values: dict[str, Any] = {}
    if wanted.capacity is not None:
        values["capacity"] = wanted.capacity
    if wanted.building is not None:
        values["building"] = wanted.building.lower()
    if wanted.floor is not None:
        values["floor"] = wanted.floor.lower()
    for index, feature in enumerate(wanted.features):
        values[f"feature_{index}"] = f"%,{feature},%"  # tags hold only [a-z0-9-]: no wildcard
    return values


def _zone() -> ColumnElement[str]:
    return func.coalesce(
        spaces.c.time_zone, bindparam("default_zone", type_=spaces.c.time_zone.type)
    )


async def matching_spaces(reads: Reads, wanted: SpaceFilter) -> list[Space]:
    """Return the bookable spaces ``wanted`` describes, in no particular order."""
    rows = await reads.rows(_matching_statement(_shape(wanted)), _values(wanted))
    return [space_from_row(row) for row in rows]


@lru_cache(maxsize=64)
def _matching_statement(shape: _Shape) -> DirectStatement:
    return DirectStatement(select(spaces).where(*_matching(shape)))


class SpaceGroup(NamedTuple):
    """Matching spaces that share a zone and buffers, so one window means the same for all."""

    zone: str
    preparation_minutes: int
    cleanup_minutes: int


async def groups_of_matching(
    reads: Reads, wanted: SpaceFilter, default_zone: str
) -> list[SpaceGroup]:
    """Return the (zone, preparation, cleanup) groups of the matching spaces; spaces
    without a zone are in ``default_zone``. Real buildings have a handful."""
    values = {**_values(wanted), "default_zone": default_zone}
    rows = await reads.rows(_groups_statement(_shape(wanted)), values)
    return sorted(SpaceGroup(*row) for row in rows)


@lru_cache(maxsize=64)
def _groups_statement(shape: _Shape) -> DirectStatement:
    return DirectStatement(
        select(_zone().label("zone"), spaces.c.preparation_minutes, spaces.c.cleanup_minutes)
        .where(*_matching(shape))
        .distinct()
    )


_LATEST_BLOCK_END = (
    select(reservations.c.blocked_end)
    .where(
        reservations.c.space_id == spaces.c.id,
        ACTIVE,
        reservations.c.blocked_start < _instant("blocked_end"),
    )
    .order_by(reservations.c.blocked_start.desc())
    .limit(1)
    .scalar_subquery()
)


async def free_spaces(
    reads: Reads,
    wanted: SpaceFilter,
    group: SpaceGroup,
    blocked: Interval,
    default_zone: str,
) -> list[Space]:
    """Return the matching spaces of ``group`` that could take a reservation blocking
    them over ``blocked`` (the window with the group's preparation and cleanup): the
    latest active block starting before its end ends by its start."""
    values = {
        **_values(wanted),
        "default_zone": default_zone,
        "zone": group.zone,
        "preparation_minutes": group.preparation_minutes,
        "cleanup_minutes": group.cleanup_minutes,
        "blocked_start": blocked.start,
        "blocked_end": blocked.end,
    }
    rows = await reads.rows(_free_statement(_shape(wanted)), values)
    return [space_from_row(row) for row in rows]


@lru_cache(maxsize=64)
def _free_statement(shape: _Shape) -> DirectStatement:
    """The free-space query for one shape of filters, built and compiled once: with a
    thousand spaces in the answer, SQLAlchemy's result rows cost more than the query."""
    return DirectStatement(
        select(spaces).where(
            *_matching(shape),
            _zone() == bindparam("zone"),
            spaces.c.preparation_minutes == bindparam("preparation_minutes"),
            spaces.c.cleanup_minutes == bindparam("cleanup_minutes"),
            func.coalesce(_LATEST_BLOCK_END, _instant("blocked_start"))
            <= _instant("blocked_start"),
        )
    )


_SPACES_BY_ID = DirectStatement(select(spaces).where(in_json_list(spaces.c.id, "ids")))


async def spaces_named(reads: Reads, ids: Sequence[str]) -> dict[str, Space]:
    """Return the spaces of those ids that exist (bookable or not), by id."""
    rows = await reads.rows(_SPACES_BY_ID, {"ids": json_list(ids)}) if ids else []
    return {row.id: space_from_row(row) for row in rows}


def _overlapping(space_id: Any, window_start: Any, window_end: Any) -> list[ColumnElement[bool]]:
    """Active blocks of the space ``space_id`` overlapping the window, bounded by index."""
    earlier = reservations.alias("earlier")
    latest_before = (
        select(earlier.c.blocked_start)
        .where(
            earlier.c.space_id == space_id,
            earlier.c.status == literal_column("'Processed'"),
            earlier.c.blocked_start < window_start,
        )
        .order_by(earlier.c.blocked_start.desc())
        .limit(1)
        .scalar_subquery()
    )
    return [
        reservations.c.space_id == space_id,
        ACTIVE,
        reservations.c.blocked_start >= func.coalesce(latest_before, window_start),
        reservations.c.blocked_start < window_end,
        reservations.c.blocked_end > window_start,
    ]


class ScheduledItem(NamedTuple):
    space_id: str
    ultimo_id: int
    start: datetime
    end: datetime
    blocked_start: datetime
    blocked_end: datetime
    description: str
    applicant_name: str


# Built and compiled once, run per space: with a schedule's few hundred rows, SQLAlchemy's
# statement and result machinery cost many times what SQLite takes to answer.
_SCHEDULE = DirectStatement(
    select(
        reservations.c.space_id,
        reservations.c.ultimo_id,
        reservations.c.start_time,
        reservations.c.end_time,
        reservations.c.blocked_start,
        reservations.c.blocked_end,
        reservations.c.description,
        people.c.name,
    )
    .join(people, people.c.id == reservations.c.applicant_id)
    .where(*_overlapping(bindparam("space_id"), _instant("start"), _instant("end")))
    .order_by(reservations.c.blocked_start),
    stored_form=True,
)
_BLOCKS = DirectStatement(
    select(reservations.c.blocked_start, reservations.c.blocked_end)
    .where(*_overlapping(bindparam("space_id"), _instant("start"), _instant("end")))
    .order_by(reservations.c.blocked_start)
)


async def scheduled(
    reads: Reads, space_ids: Sequence[str], start: datetime, end: datetime
) -> dict[str, list[ScheduledItem]]:
    """Return, by space, the active reservations of those spaces whose blocked interval
    overlaps ``[start, end)``, by blocked start."""
    each = [{"space_id": space_id, "start": start, "end": end} for space_id in space_ids]
    answers = await reads.rows_each(_SCHEDULE, each)
    found = {}
    for space_id, rows in zip(space_ids, answers, strict=True):
        found[space_id] = [
            ScheduledItem(
                row[0],
                row[1],
                _utc(row[2]),
                _utc(row[3]),
                _utc(row[4]),
                _utc(row[5]),
                row[6],
                row[7],
            )
            for row in rows
        ]
    return found


def _utc(value: str | datetime) -> datetime:
    """An instant as SQLite stores it (UTC text; reading it here is several times cheaper
    than the column type's processors) or as PostgreSQL answers (aware)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value


async def blocks(reads: Reads, space_id: str, start: datetime, end: datetime) -> list[Interval]:
    """Return the active blocked intervals of a space overlapping ``[start, end)``, sorted."""
    rows = await reads.rows(_BLOCKS, {"space_id": space_id, "start": start, "end": end})
    return [Interval(row.blocked_start, row.blocked_end) for row in rows]
