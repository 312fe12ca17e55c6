"""Series rows, and the reservations that are their occurrences.

Occurrences are written through ``storage.reservations`` like any reservation (so the
database's no-overlap guard and its translation into ``SpaceNotAvailable`` apply); this
module keeps the series row and reads a series' occurrences.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from roomline.storage.direct import DirectStatement, OnConnection, Reads, drive
from roomline.storage.tables import reservations, series


class SeriesExternalIdTaken(Exception):
    """Another transaction stored a series with the same (key, external_id) first."""


def add(conn: Connection, values: dict[str, Any]) -> int:
    """Insert a series row (``values`` by column name) and return its id."""
    try:
        return int(conn.execute(insert(series).returning(series.c.id), values).scalar_one())
    except IntegrityError as exc:
        if "external_id" in str(exc.orig):
            raise SeriesExternalIdTaken() from exc
        raise


_BY_ID = DirectStatement(select(series).where(series.c.id == bindparam("series_id")))
_OCCURRENCES = DirectStatement(
    select(reservations)
    .where(reservations.c.series_id == bindparam("series_id"))
    .order_by(reservations.c.start_time, reservations.c.ultimo_id)
)


def get(conn: Connection, series_id: int) -> Any | None:
    """``get_on`` in the caller's transaction."""
    return drive(get_on(OnConnection(conn), series_id))


async def get_on(reads: Reads, series_id: int) -> Any | None:
    """The series row ``series_id``, or None."""
    rows = await reads.rows(_BY_ID, {"series_id": series_id})
    return rows[0] if rows else None


def by_external_id(conn: Connection, api_key_id: int | None, external_id: str) -> Any | None:
    """Return the series a key created with ``external_id``."""
    key = series.c.api_key_id.is_(None) if api_key_id is None else series.c.api_key_id == api_key_id
    return conn.execute(select(series).where(key, series.c.external_id == external_id)).first()


def series_of(conn: Connection, ultimo_id: int) -> int | None:
    found = conn.execute(
        select(reservations.c.series_id).where(reservations.c.ultimo_id == ultimo_id)
    ).scalar()
    return None if found is None else int(found)


def occurrences(conn: Connection, series_id: int) -> list[Any]:
    """``occurrences_on`` in the caller's transaction."""
    return drive(occurrences_on(OnConnection(conn), series_id))


async def occurrences_on(reads: Reads, series_id: int) -> list[Any]:
    """Return the reservation rows of a series, by start time then UltimoId."""
    return await reads.rows(_OCCURRENCES, {"series_id": series_id})


def change(conn: Connection, series_id: int, now: datetime, **values: Any) -> None:
    """Set columns of a series row (``skipped``, ``description``)."""
    conn.execute(update(series).where(series.c.id == series_id).values(updated_at=now, **values))
