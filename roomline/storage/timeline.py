"""Reservations that block spaces in a window: what the web view's timeline draws.

Unlike the Ultimo Get (which matches ``[StartTime, EndTime)``) this matches the blocked
interval, so preparation before a reservation that starts tomorrow still shows today.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from roomline.domain.reservations import ReservationStatus
from roomline.storage.tables import people, reservations

_CHUNK = 500  # stay under every driver's parameter limit


def blocking(
    conn: Connection, space_ids: Sequence[str], start: datetime, end: datetime
) -> list[Any]:
    """Return rows of active reservations of ``space_ids`` whose blocked interval overlaps.

    Rows carry ``applicant_name``; ordered by space, start time, then UltimoId.
    """
    rows: list[Any] = []
    for first in range(0, len(space_ids), _CHUNK):
        query = (
            select(reservations, people.c.name.label("applicant_name"))
            .join(people, people.c.id == reservations.c.applicant_id)
            .where(
                reservations.c.space_id.in_(space_ids[first : first + _CHUNK]),
                reservations.c.status == ReservationStatus.PROCESSED.value,
                reservations.c.blocked_start < end,
                reservations.c.blocked_end > start,
            )
            .order_by(reservations.c.space_id, reservations.c.start_time, reservations.c.ultimo_id)
        )
        rows.extend(conn.execute(query))
    return rows


def with_applicant(conn: Connection, ultimo_id: int) -> Any | None:
    """Return one reservation row (any status) with ``applicant_name``, or None."""
    query = (
        select(reservations, people.c.name.label("applicant_name"))
        .join(people, people.c.id == reservations.c.applicant_id)
        .where(reservations.c.ultimo_id == ultimo_id)
    )
    return conn.execute(query).first()
