"""Reservations: reads, writes, and the translation of the database's own refusals.

A write that the database refuses because blocked intervals overlap (PostgreSQL's
exclusion constraint, SQLite's triggers) becomes ``SpaceNotAvailable``; one refused because the key already
used the ExternalId becomes ``ExternalIdTaken``, so the service can answer idempotently;
one whose space or applicant was removed meanwhile becomes ``UnknownSpace`` or
``UnknownApplicant``. A write reads the reservation it changes with ``get_for_update``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Select, and_, bindparam, func, insert, select, text, update

from roomline.domain.errors import SpaceNotAvailable, UnknownApplicant, UnknownSpace
from roomline.domain.reservations import Interval, Reservation, ReservationStatus, Space
from roomline.domain.times import utc_text
from roomline.storage.audit import LOG_LOCK
from roomline.storage.direct import (
    DirectStatement,
    OnConnection,
    Reads,
    Values,
    Writes,
    drive,
    integrity_error,
)
from roomline.storage.tables import people, reservations, spaces

EXCLUSION_VIOLATION = "23P01"
FOREIGN_KEY_VIOLATION = "23503"
SQLITE_OVERLAP_MESSAGE = "reservations_no_overlap"  # raised by migration 0003's triggers


class ExternalIdTaken(Exception):
    """Another transaction stored the same (key, ExternalId) first."""


def reservation_from_row(row: Any) -> Reservation:
    return Reservation(
        ultimo_id=row.ultimo_id,
        space_id=row.space_id,
        applicant_id=row.applicant_id,
        description=row.description,
        start=row.start_time,
        end=row.end_time,
        preparation_minutes=row.preparation_minutes,
        cleanup_minutes=row.cleanup_minutes,
        status=ReservationStatus(row.status),
        external_id=row.external_id,
        # Rows of queries that leave the column out (listings) have no series to tell.
        series_id=getattr(row, "series_id", None),
        checked_in_at=getattr(row, "checked_in_at", None),
        checked_in_by=getattr(row, "checked_in_by", None),
        released_at=getattr(row, "released_at", None),
        ended_at=getattr(row, "ended_at", None),
    )


_BY_ID = DirectStatement(
    select(reservations).where(reservations.c.ultimo_id == bindparam("ultimo_id"))
)
# PostgreSQL locks the row until the transaction ends (SQLite's dialect leaves FOR UPDATE
# out: its write transaction already holds the database's only write lock).
_BY_ID_FOR_UPDATE = DirectStatement(
    select(reservations).where(reservations.c.ultimo_id == bindparam("ultimo_id")).with_for_update()
)
_BY_EXTERNAL_ID = DirectStatement(
    select(reservations).where(
        reservations.c.api_key_id == bindparam("api_key_id"),
        reservations.c.external_id == bindparam("external_id"),
    )
)
_BY_EXTERNAL_ID_WITHOUT_KEY = DirectStatement(
    select(reservations).where(
        reservations.c.api_key_id.is_(None),
        reservations.c.external_id == bindparam("external_id"),
    )
)


def get(conn: Connection, ultimo_id: int) -> Reservation | None:
    row = _BY_ID.first(conn, {"ultimo_id": ultimo_id})
    return None if row is None else reservation_from_row(row)


class NamedReservation(NamedTuple):
    """A reservation with what shows it to people: its applicant's name and its space's
    zone (None where the space has no zone of its own)."""

    reservation: Reservation
    applicant_name: str
    space_zone: str | None


# Reservation rows with ``applicant_name`` and their space's ``space_time_zone``: every
# reservation has both (foreign keys, never removed under it).
_WITH_NAMES = (
    select(
        reservations,
        people.c.name.label("applicant_name"),
        spaces.c.time_zone.label("space_time_zone"),
    )
    .join(people, people.c.id == reservations.c.applicant_id)
    .join(spaces, spaces.c.id == reservations.c.space_id)
)
_NAMED = DirectStatement(_WITH_NAMES.where(reservations.c.ultimo_id == bindparam("ultimo_id")))


def named(conn: Connection | sqlite3.Connection, ultimo_id: int) -> NamedReservation | None:
    """``named_on`` in the caller's transaction."""
    return drive(named_on(OnConnection(conn), ultimo_id))


async def named_on(reads: Reads, ultimo_id: int) -> NamedReservation | None:
    """The reservation ``ultimo_id`` (active or cancelled) with its names, or None: one
    statement, on the event loop (``/api/booking``) or in a transaction (the door)."""
    rows = await reads.rows(_NAMED, {"ultimo_id": ultimo_id})
    if not rows:
        return None
    row = rows[0]
    return NamedReservation(reservation_from_row(row), row.applicant_name, row.space_time_zone)


def get_for_update(conn: Connection, ultimo_id: int) -> Reservation | None:
    """Read a reservation that the caller's write decides on, locking it until commit.

    A concurrent write of the same row waits for this transaction to end and then reads
    the row as committed, so two writes of one reservation run one after the other: a
    cancel and an update cannot both act on the state before the other.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(_LOG_TURN)  # the log's lock before the row's (``take_space_turn_on``)
    row = _BY_ID_FOR_UPDATE.first(conn, {"ultimo_id": ultimo_id})
    return None if row is None else reservation_from_row(row)


def by_external_id(
    conn: Connection, api_key_id: int | None, external_id: str
) -> tuple[Reservation, str | None] | None:
    """Return the reservation a key created with ``external_id``, and its request fingerprint."""
    if api_key_id is None:
        row = _BY_EXTERNAL_ID_WITHOUT_KEY.first(conn, {"external_id": external_id})
    else:
        row = _BY_EXTERNAL_ID.first(conn, {"api_key_id": api_key_id, "external_id": external_id})
    return None if row is None else (reservation_from_row(row), row.request_fingerprint)


def _first_conflict_query(ignoring: bool) -> DirectStatement:
    # Built once: constructing a statement and its cache key each call costs more than
    # SQLite takes to answer it.
    active = [
        reservations.c.space_id == bindparam("space_id"),
        reservations.c.status == ReservationStatus.PROCESSED.value,
    ]
    if ignoring:
        active.append(reservations.c.ultimo_id != bindparam("ignore_id"))
    start = bindparam("start", type_=reservations.c.blocked_start.type)
    end = bindparam("end", type_=reservations.c.blocked_start.type)
    latest_before = (
        select(reservations.c.blocked_start)
        .where(*active, reservations.c.blocked_start < start)
        .order_by(reservations.c.blocked_start.desc())
        .limit(1)
        .scalar_subquery()
    )
    return DirectStatement(
        select(reservations.c.ultimo_id)
        .where(
            *active,
            reservations.c.blocked_start >= func.coalesce(latest_before, start),
            reservations.c.blocked_start < end,
            reservations.c.blocked_end > start,
        )
        .limit(1)
    )


_FIRST_CONFLICT = _first_conflict_query(ignoring=False)
_FIRST_CONFLICT_IGNORING = _first_conflict_query(ignoring=True)


def first_conflict(
    conn: Connection, space_id: str, blocked: Interval, ignore_id: int | None = None
) -> int | None:
    """``first_conflict_on`` in the caller's transaction."""
    return drive(first_conflict_on(OnConnection(conn), space_id, blocked, ignore_id))


async def first_conflict_on(
    reads: Reads, space_id: str, blocked: Interval, ignore_id: int | None = None
) -> int | None:
    """Return the UltimoId of an active reservation whose blocked interval overlaps.

    Active blocked intervals of a space never overlap each other (the database refuses
    it), so of those starting before ``blocked`` only the latest can reach into it. The
    scan therefore starts there: two seeks on (space_id, blocked_start), however many
    reservations the space has.
    """
    params: dict[str, Any] = {"space_id": space_id, "start": blocked.start, "end": blocked.end}
    if ignore_id is None:
        rows = await reads.rows(_FIRST_CONFLICT, params)
    else:
        rows = await reads.rows(_FIRST_CONFLICT_IGNORING, {**params, "ignore_id": ignore_id})
    return None if not rows else int(rows[0][0])


async def first_conflicts_on(
    reads: Reads, space_id: str, blocked: Sequence[Interval]
) -> list[int | None]:
    """``first_conflict_on`` for each of ``blocked`` (side by side on PostgreSQL)."""
    each = [{"space_id": space_id, "start": b.start, "end": b.end} for b in blocked]
    answers = await reads.rows_each(_FIRST_CONFLICT, each)
    return [None if not rows else int(rows[0][0]) for rows in answers]


async def get_on(reads: Reads, ultimo_id: int) -> Reservation | None:
    """``get`` through ``Reads`` (on the event loop, or in the caller's transaction)."""
    rows = await reads.rows(_BY_ID, {"ultimo_id": ultimo_id})
    return None if not rows else reservation_from_row(rows[0])


class ListedReservation(NamedTuple):
    """One line of a Get: what the answer shows, with times as UTC text (``utc_text``).

    A Get lists many reservations and writes each time in the space's zone; reading the
    stored text and formatting it directly skips building a datetime for every value.
    """

    ultimo_id: int
    description: str
    applicant_id: str
    applicant_name: str
    start: str
    end: str
    blocked_start: str
    blocked_end: str
    status: str


def _in_window_query() -> Select[Any]:
    active = and_(
        reservations.c.space_id == bindparam("space_id"),
        reservations.c.status == ReservationStatus.PROCESSED.value,
    )
    start = bindparam("start", type_=reservations.c.start_time.type)
    end = bindparam("end", type_=reservations.c.start_time.type)
    latest_before = (
        select(reservations.c.start_time)
        .where(active, reservations.c.start_time < start)
        .order_by(reservations.c.start_time.desc())
        .limit(1)
        .scalar_subquery()
    )
    # The columns of ``ListedReservation``, in its order.
    return (
        select(
            reservations.c.ultimo_id,
            reservations.c.description,
            reservations.c.applicant_id,
            people.c.name.label("applicant_name"),
            reservations.c.start_time,
            reservations.c.end_time,
            reservations.c.blocked_start,
            reservations.c.blocked_end,
            reservations.c.status,
        )
        .join(people, people.c.id == reservations.c.applicant_id)
        .where(
            active,
            reservations.c.start_time >= func.coalesce(latest_before, start),
            reservations.c.start_time < end,
            reservations.c.end_time > start,
        )
        .order_by(reservations.c.start_time, reservations.c.ultimo_id)
    )


IN_WINDOW = _in_window_query()


def in_window(
    conn: Connection, space_id: str, start: datetime, end: datetime
) -> list[ListedReservation]:
    """Return the active reservations whose ``[start, end)`` overlaps the window.

    Ordered by start time, then UltimoId. As in ``first_conflict``, only the latest
    active reservation starting before the window can reach into it, so the index range
    starts there and Get stays flat however long a space's history grows.
    """
    rows = conn.execute(IN_WINDOW, {"space_id": space_id, "start": start, "end": end})
    return [
        ListedReservation(
            row.ultimo_id,
            row.description,
            row.applicant_id,
            row.applicant_name,
            utc_text(row.start_time),
            utc_text(row.end_time),
            utc_text(row.blocked_start),
            utc_text(row.blocked_end),
            row.status,
        )
        for row in rows
    ]


def insert_reservation(conn: Connection, **row: Any) -> int:
    """``insert_reservation_on`` in the caller's transaction."""
    return drive(insert_reservation_on(OnConnection(conn), **row))


async def insert_reservation_on(
    writes: Writes,
    *,
    space: Space,
    applicant_id: str,
    description: str,
    start: datetime,
    end: datetime,
    blocked: Interval,
    api_key_id: int | None,
    external_id: str,
    request_fingerprint: str | None,
    now: datetime,
    ultimo_id: int | None = None,
    status: ReservationStatus = ReservationStatus.PROCESSED,
    series_id: int | None = None,
) -> int:
    """Insert a reservation (active unless ``status`` says otherwise; an occurrence of
    ``series_id`` if given) and return its UltimoId."""
    values: dict[str, Any] = {
        "space_id": space.id,
        "applicant_id": applicant_id,
        "description": description,
        "start_time": start,
        "end_time": end,
        "preparation_minutes": space.preparation_minutes,
        "cleanup_minutes": space.cleanup_minutes,
        "blocked_start": blocked.start,
        "blocked_end": blocked.end,
        "status": status.value,
        "api_key_id": api_key_id,
        "external_id": external_id,
        "request_fingerprint": request_fingerprint,
        "created_at": now,
        "updated_at": now,
        "series_id": series_id,
    }
    statement = _INSERT
    if ultimo_id is not None:
        values["ultimo_id"] = ultimo_id
        statement = _INSERT_NUMBERED
    await take_space_turn_on(writes, space.id)
    return int(await _written_or_refused(writes, statement, values, space, applicant_id))


# Writes are built once and take their values as parameters: coercing fifteen values
# into a new statement and its cache key on every request costs more than the insert.
_NEW_COLUMNS = [
    "space_id",
    "applicant_id",
    "description",
    "start_time",
    "end_time",
    "preparation_minutes",
    "cleanup_minutes",
    "blocked_start",
    "blocked_end",
    "status",
    "api_key_id",
    "external_id",
    "request_fingerprint",
    "created_at",
    "updated_at",
    "series_id",
]
_INSERT = DirectStatement(
    insert(reservations).returning(reservations.c.ultimo_id), column_keys=_NEW_COLUMNS
)
_INSERT_NUMBERED = DirectStatement(
    insert(reservations).returning(reservations.c.ultimo_id),
    column_keys=["ultimo_id", *_NEW_COLUMNS],
)
_UPDATE_ONE = update(reservations).where(reservations.c.ultimo_id == bindparam("target_id"))
# A reservation changed on its own (not by its series) becomes an exception of its series,
# if it has one, which series edits then leave as it is.
_UPDATE_ALONE = _UPDATE_ONE.values(series_exception=reservations.c.series_id.is_not(None))
_MOVED_COLUMNS = [
    "start_time",
    "end_time",
    "preparation_minutes",
    "cleanup_minutes",
    "blocked_start",
    "blocked_end",
    "updated_at",
]
_MOVE = DirectStatement(_UPDATE_ALONE, column_keys=_MOVED_COLUMNS)
_CANCEL = DirectStatement(_UPDATE_ALONE, column_keys=["status", "updated_at"])
_MOVE_IN_SERIES = DirectStatement(_UPDATE_ONE, column_keys=[*_MOVED_COLUMNS, "description"])
_CANCEL_IN_SERIES = DirectStatement(_UPDATE_ONE, column_keys=["status", "updated_at"])


async def move_on(
    writes: Writes,
    current: Reservation,
    space: Space,
    start: datetime,
    end: datetime,
    blocked: Interval,
    now: datetime,
    *,
    description: str | None = None,
) -> None:
    """Give ``current`` new times and re-snapshot the space's preparation and cleanup.

    With ``description`` it is its series that moves it (and renames it); otherwise the
    reservation is changed on its own and becomes an exception of its series.
    """
    values = {
        "target_id": current.ultimo_id,
        "start_time": start,
        "end_time": end,
        "preparation_minutes": space.preparation_minutes,
        "cleanup_minutes": space.cleanup_minutes,
        "blocked_start": blocked.start,
        "blocked_end": blocked.end,
        "updated_at": now,
    }
    statement = _MOVE
    if description is not None:
        values["description"] = description
        statement = _MOVE_IN_SERIES
    await take_space_turn_on(writes, space.id)
    await _written_or_refused(writes, statement, values, space)


# "rl" in ASCII: the first number of the spaces' advisory locks, in the two-number form
# that keeps them apart from the log's (``storage.audit``).
SPACE_LOCK = 0x726C
_SPACE_TURN = DirectStatement(
    text(
        f"SELECT pg_advisory_xact_lock({SPACE_LOCK}, hashtext(:space_id))"
        f" FROM (SELECT pg_advisory_xact_lock({LOG_LOCK})) AS log"
    )
)
_LOG_TURN = text(f"SELECT pg_advisory_xact_lock({LOG_LOCK})")


async def take_space_turn_on(writes: Writes, space_id: str) -> None:
    """On PostgreSQL, wait until no other transaction writes into ``space_id``, and keep
    the turn until this one ends.

    Two transactions writing overlapping rows at once each find the other's row in the
    exclusion constraint's index and wait for it: a deadlock PostgreSQL breaks only after
    ``deadlock_timeout`` (a second). In turn, the second finds the first's row committed
    and is refused at once. The log's lock (``storage.audit``) comes first: every
    reservation write takes the log's lock before its space's turn and its rows, one
    order everywhere (``pg_hot``), so none holds what another waits for. SQLite's writers
    take turns already.
    """
    if writes.dialect == "postgresql":
        await writes.write(_SPACE_TURN, {"space_id": space_id})


def cancel(conn: Connection, ultimo_id: int, now: datetime, *, by_series: bool = False) -> None:
    """``cancel_on`` in the caller's transaction."""
    drive(cancel_on(OnConnection(conn), ultimo_id, now, by_series=by_series))


async def cancel_on(
    writes: Writes, ultimo_id: int, now: datetime, *, by_series: bool = False
) -> None:
    """Cancel a reservation: on its own (it becomes an exception of its series) or
    ``by_series``."""
    statement = _CANCEL_IN_SERIES if by_series else _CANCEL
    await writes.write(
        statement,
        {"target_id": ultimo_id, "status": ReservationStatus.CANCELLED.value, "updated_at": now},
    )


def check_in(conn: Connection, ultimo_id: int, at: datetime, by: str | None) -> None:
    """Record a check-in (the caller holds the row's lock)."""
    conn.execute(
        update(reservations)
        .where(reservations.c.ultimo_id == ultimo_id)
        .values(checked_in_at=at, checked_in_by=by, updated_at=at)
    )


def end_early(
    conn: Connection, ultimo_id: int, end: datetime, blocked: Interval, now: datetime
) -> None:
    """Cut a reservation's end (its cleanup follows); it becomes an exception of its
    series, as any change made to it alone."""
    conn.execute(
        update(reservations)
        .where(reservations.c.ultimo_id == ultimo_id)
        .values(
            end_time=end,
            blocked_end=blocked.end,
            ended_at=now,
            updated_at=now,
            series_exception=reservations.c.series_id.is_not(None),
        )
    )


def release(conn: Connection, ultimo_id: int, now: datetime) -> bool:
    """Cancel a reservation nobody checked into; False if it is no longer active or was
    checked in meanwhile (so a release happens once, and never after a check-in)."""
    result = conn.execute(
        update(reservations)
        .where(
            reservations.c.ultimo_id == ultimo_id,
            reservations.c.status == ReservationStatus.PROCESSED.value,
            reservations.c.checked_in_at.is_(None),
        )
        .values(
            status=ReservationStatus.CANCELLED.value,
            released_at=now,
            updated_at=now,
            series_exception=reservations.c.series_id.is_not(None),
        )
    )
    return result.rowcount == 1


def checked_in_between(
    conn: Connection, space_id: str, start: datetime, end: datetime
) -> dict[int, datetime]:
    """Return when each active reservation of ``space_id`` overlapping ``[start, end)``
    was checked into (those nobody checked into are left out)."""
    rows = conn.execute(
        select(reservations.c.ultimo_id, reservations.c.checked_in_at).where(
            reservations.c.space_id == space_id,
            reservations.c.status == ReservationStatus.PROCESSED.value,
            reservations.c.checked_in_at.is_not(None),
            reservations.c.start_time < end,
            reservations.c.end_time > start,
        )
    )
    return {row.ultimo_id: row.checked_in_at for row in rows}


def continue_numbering_after(conn: Connection, last_ultimo_id: int) -> None:
    """Make the next new reservation get ``last_ultimo_id + 1`` (demo numbering)."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('reservations', 'ultimo_id'), "
                "GREATEST(:last, (SELECT COALESCE(MAX(ultimo_id), 1) FROM reservations)))"
            ),
            {"last": last_ultimo_id},
        )
        return
    updated = conn.execute(
        text("UPDATE sqlite_sequence SET seq = MAX(seq, :last) WHERE name = 'reservations'"),
        {"last": last_ultimo_id},
    )
    if updated.rowcount == 0:
        conn.execute(
            text("INSERT INTO sqlite_sequence (name, seq) VALUES ('reservations', :last)"),
            {"last": last_ultimo_id},
        )


async def _written_or_refused(
    writes: Writes,
    statement: DirectStatement,
    values: Values,
    space: Space,
    applicant_id: str | None = None,
) -> Any:
    """Run one write and turn the database's refusals into ours.

    On PostgreSQL the statement runs in a savepoint, so a refusal leaves the transaction
    usable. SQLite needs none: its write lock means no other writer can cause one. On
    PostgreSQL a space or person removed since the caller read it fails the foreign key:
    the request names something unknown, as if the removal had come first (it did).
    """
    try:
        async with writes.savepoint():
            return await writes.write(statement, values)
    except Exception as exc:
        driver_error = integrity_error(exc)
        ours = None if driver_error is None else refusal_of(driver_error, space, applicant_id)
        if ours is None:
            raise
        raise ours from exc


def refusal_of(
    driver_error: Any, space: Space, applicant_id: str | None
) -> SpaceNotAvailable | ExternalIdTaken | UnknownSpace | UnknownApplicant | None:
    """The database's refusal of a write as ours (sqlite3's, psycopg's or asyncpg's
    error), or None for any other error."""
    sqlstate = getattr(driver_error, "sqlstate", None)
    if sqlstate == EXCLUSION_VIOLATION or SQLITE_OVERLAP_MESSAGE in str(driver_error):
        return SpaceNotAvailable(space.display_name)
    if "external_id" in str(driver_error):
        return ExternalIdTaken()
    if sqlstate == FOREIGN_KEY_VIOLATION:
        # psycopg names the constraint in its diagnostics, asyncpg on the error itself.
        diagnostics = getattr(driver_error, "diag", driver_error)
        constraint = getattr(diagnostics, "constraint_name", None) or ""
        if "applicant_id" in constraint and applicant_id is not None:
            return UnknownApplicant.named(applicant_id)
        return UnknownSpace.named(space.id)
    return None


def listing(
    conn: Connection,
    *,
    space_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    status: ReservationStatus | None = None,
    limit: int | None = None,
) -> list[Any]:
    """Return reservation rows for management, filtered, ordered by start then UltimoId.

    A row overlaps ``[start, end)`` when given; rows carry ``applicant_name`` and the
    space's ``space_time_zone``.
    """
    query = _WITH_NAMES.order_by(reservations.c.start_time, reservations.c.ultimo_id)
    if space_id is not None:
        query = query.where(reservations.c.space_id == space_id)
    if start is not None:
        query = query.where(reservations.c.end_time > start)
    if end is not None:
        query = query.where(reservations.c.start_time < end)
    if status is not None:
        query = query.where(reservations.c.status == status.value)
    if limit is not None:
        query = query.limit(limit)
    return list(conn.execute(query))
