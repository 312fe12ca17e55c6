"""What a utilisation report reads: the reservations and their log, never a copy of them.

Instants come back as whole seconds since the epoch, computed by the database, so a
quarter's million rows cost no datetime objects (services/reports.py, domain/utilisation.py).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Connection, cast, func, select

from roomline.domain.reservations import ReservationStatus
from roomline.storage.tables import audit_log, reservations

# The log entries that say more than a reservation's current state does.
LOG_ACTIONS = ("cancel", "release", "check_in")


def _epoch(conn: Connection, column: Any) -> ColumnElement[int]:
    if conn.dialect.name == "sqlite":
        # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC. unixepoch() (SQLite 3.38) reads
        # it a fifth faster than strftime('%s'), which older SQLite versions fall back on.
        if sqlite3.sqlite_version_info >= (3, 38):
            return cast(func.unixepoch(column), BigInteger)
        return cast(func.strftime("%s", column), BigInteger)
    # floor, not a cast's rounding: whole seconds the way SQLite's '%s' has them.
    return cast(func.floor(func.extract("epoch", column)), BigInteger)


def reservation_rows(conn: Connection, start: datetime, end: datetime) -> list[tuple[Any, ...]]:
    """Rows of every reservation (any status) whose blocked interval overlaps
    ``[start, end)``, in no order: (space_id, ultimo_id, start, end, preparation and
    cleanup minutes, cancelled, created)."""
    query = select(
        reservations.c.space_id,
        reservations.c.ultimo_id,
        _epoch(conn, reservations.c.start_time),
        _epoch(conn, reservations.c.end_time),
        reservations.c.preparation_minutes,
        reservations.c.cleanup_minutes,
        reservations.c.status == ReservationStatus.CANCELLED.value,
        _epoch(conn, reservations.c.created_at),
    ).where(reservations.c.blocked_start < end, reservations.c.blocked_end > start)
    return _driver_rows(conn, query)


def log_rows(conn: Connection, first_id: int, last_id: int) -> list[tuple[Any, ...]]:
    """Cancel, check-in and release entries of the reservations ``first_id`` to
    ``last_id``: (ultimo_id, action, at), from ``ix_audit_log_action_ultimo_id`` alone."""
    query = select(audit_log.c.ultimo_id, audit_log.c.action, _epoch(conn, audit_log.c.at)).where(
        audit_log.c.action.in_(LOG_ACTIONS),
        audit_log.c.ultimo_id >= first_id,
        audit_log.c.ultimo_id <= last_id,
    )
    return _driver_rows(conn, query)


def _driver_rows(conn: Connection, query: Any) -> list[tuple[Any, ...]]:
    # The driver's own tuples: every column is a plain int or str already, and a quarter
    # holds near a million rows, where building SQLAlchemy rows costs a second.
    result = conn.execute(query)
    try:
        rows = list(result.cursor.fetchall())
    finally:
        result.close()
    return rows
