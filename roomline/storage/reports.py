"""What a utilisation report reads: the reservations and their log, never a copy of them.

Instants come back as whole seconds since the epoch, computed by the database, so a
quarter's million rows cost no datetime objects (services/reports.py, domain/utilisation.py).
Every value a row carries costs the driver time to hand over (a tenth of a second per
column over a quarter's rows on SQLite), so each query asks for no more than the report
uses.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Connection, and_, case, cast, exists, func, select

from roomline.domain.reservations import ReservationStatus
from roomline.domain.utilisation import (
    CANCELLED,
    CHECKED_IN,
    LATE,
    LATE_CANCELLATION,
    RELEASED,
)
from roomline.storage.tables import audit_log, reservations


def _epoch(conn: Connection, column: Any) -> ColumnElement[int]:
    if conn.dialect.name == "sqlite":
        # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC. unixepoch() (SQLite 3.38) reads
        # it a fifth faster than strftime('%s'), which older SQLite versions fall back on.
        if sqlite3.sqlite_version_info >= (3, 38):
            return cast(func.unixepoch(column), BigInteger)
        return cast(func.strftime("%s", column), BigInteger)
    # Whole seconds, rounded down as SQLite's are. date_part's double is the instant to
    # the microsecond while it is below 2**33 seconds (before 2242), so rounding it down
    # is exact there and costs half what numeric extract() does (0.3 s of PostgreSQL's time
    # over a quarter's rows); later instants have their fraction cut off first.
    seconds = case(
        (column < _DOUBLE_EXACT_UNTIL, func.floor(func.date_part("epoch", column))),
        else_=func.date_part("epoch", func.date_trunc("second", column)),
    )
    return cast(seconds, BigInteger)


_DOUBLE_EXACT_UNTIL = datetime(2242, 1, 1, tzinfo=UTC)


def reservation_rows(conn: Connection, start: datetime, end: datetime) -> Iterator[tuple[Any, ...]]:
    """Rows of every reservation (any status) whose blocked interval overlaps
    ``[start, end)``, in no order, as they arrive: (space_id, start, end, preparation and
    cleanup minutes, what became of it, created), as ``domain.utilisation.Row``."""
    query = select(
        reservations.c.space_id,
        _epoch(conn, reservations.c.start_time),
        _epoch(conn, reservations.c.end_time),
        reservations.c.preparation_minutes,
        reservations.c.cleanup_minutes,
        _state(conn),
        _epoch(conn, reservations.c.created_at),
    ).where(reservations.c.blocked_start < end, reservations.c.blocked_end > start)
    if conn.dialect.name == "postgresql" and _libpq_sends_chunks():
        return _streamed_rows(conn, query)
    return iter(_driver_rows(conn, query))


def _state(conn: Connection) -> ColumnElement[int]:
    """What became of a reservation, as the bits of ``domain.utilisation``.

    Check-in and release are read from the reservation itself (the door writes them with
    their log entries, and they outlive the log's pruning); only a cancelled
    reservation's lateness needs its cancel entry, one seek on
    ``ix_audit_log_action_ultimo_id`` for each of the few cancelled reservations. Every
    row a small number the driver hands over without allocating, where the UltimoIds and
    three lists of the log cost a quarter's report 0.3 s.
    """
    cancelled = reservations.c.status == ReservationStatus.CANCELLED.value
    released = reservations.c.released_at.is_not(None)
    late = exists().where(
        audit_log.c.action == "cancel",
        audit_log.c.ultimo_id == reservations.c.ultimo_id,
        _epoch(conn, reservations.c.start_time) - _epoch(conn, audit_log.c.at) < LATE_CANCELLATION,
    )
    fate = case(
        (and_(cancelled, released), CANCELLED | RELEASED),
        (and_(cancelled, late), CANCELLED | LATE),
        (cancelled, CANCELLED),
        else_=0,
    )
    return fate + case((reservations.c.checked_in_at.is_not(None), CHECKED_IN), else_=0)


# Rows per message from PostgreSQL while streaming (libpq's chunked rows).
STREAM_CHUNK = 5000


def _libpq_sends_chunks() -> bool:
    # Chunked rows came with libpq 17 (psycopg[binary] brings its own); before it,
    # psycopg's stream could only send a message a row, slower than reading all at once.
    from psycopg import pq

    return pq.version() >= 170000


def _streamed_rows(conn: Connection, query: Any) -> Iterator[tuple[Any, ...]]:
    # PostgreSQL's own process works out the rows while this one takes in the ones that
    # have come, on the other core: a quarter's 730,000 rows arrive 0.5 s sooner than
    # when the whole result is read first (psycopg's stream, same transaction).
    compiled = query.compile(dialect=conn.dialect)
    driver = conn.connection.driver_connection
    assert driver is not None  # a connection in use always has its driver's
    with driver.cursor() as cursor:
        yield from cursor.stream(compiled.string, compiled.params, size=STREAM_CHUNK)


def _driver_rows(conn: Connection, query: Any) -> list[tuple[Any, ...]]:
    # The driver's own tuples: every column is a plain int or str already, and a quarter
    # holds near a million rows, where building SQLAlchemy rows costs a second.
    result = conn.execute(query)
    try:
        rows = list(result.cursor.fetchall())
    finally:
        result.close()
    return rows
