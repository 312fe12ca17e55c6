"""Series rows, and the reservations that are their occurrences.

Occurrences are written through ``storage.reservations`` like any reservation (so the
database's no-overlap guard and its translation into ``SpaceNotAvailable`` apply); this
module keeps the series row and reads a series' occurrences.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from roomline.storage.direct import (
    DirectStatement,
    Reads,
    Writes,
    integrity_error,
)
from roomline.storage.tables import reservations, series


class SeriesExternalIdTaken(Exception):
    """Another transaction stored a series with the same (key, external_id) first."""


# What a new series row is given; the rest have defaults.
_COLUMNS = [
    "space_id",
    "applicant_id",
    "description",
    "rrule",
    "exdates",
    "first_start",
    "first_end",
    "api_key_id",
    "external_id",
    "request_fingerprint",
    "created_at",
    "updated_at",
]
_ADD = DirectStatement(insert(series).returning(series.c.id), column_keys=_COLUMNS)


async def add_on(writes: Writes, values: dict[str, Any]) -> int:
    """Insert a series row (``values`` by column name) and return its id."""
    try:
        return int(await writes.write(_ADD, values))
    except Exception as exc:
        if "external_id" in str(integrity_error(exc)):
            raise SeriesExternalIdTaken() from exc
        raise


_BY_ID = DirectStatement(select(series).where(series.c.id == bindparam("series_id")))
_OCCURRENCES = DirectStatement(
    select(reservations)
    .where(reservations.c.series_id == bindparam("series_id"))
    .order_by(reservations.c.start_time, reservations.c.ultimo_id)
)


async def get_on(reads: Reads, series_id: int) -> Any | None:
    """The series row ``series_id``, or None."""
    rows = await reads.rows(_BY_ID, {"series_id": series_id})
    return rows[0] if rows else None


_BY_KEY_AND_EXTERNAL_ID = DirectStatement(
    select(series).where(
        series.c.api_key_id == bindparam("api_key_id"),
        series.c.external_id == bindparam("external_id"),
    )
)
_BY_EXTERNAL_ID_WITHOUT_KEY = DirectStatement(
    select(series).where(
        series.c.api_key_id.is_(None), series.c.external_id == bindparam("external_id")
    )
)


async def by_external_id_on(reads: Reads, api_key_id: int | None, external_id: str) -> Any | None:
    """Return the series a key (or no key) created with ``external_id``."""
    if api_key_id is None:
        found = await reads.rows(_BY_EXTERNAL_ID_WITHOUT_KEY, {"external_id": external_id})
    else:
        found = await reads.rows(
            _BY_KEY_AND_EXTERNAL_ID, {"api_key_id": api_key_id, "external_id": external_id}
        )
    return found[0] if found else None


def series_of(conn: Connection, ultimo_id: int) -> int | None:
    found = conn.execute(
        select(reservations.c.series_id).where(reservations.c.ultimo_id == ultimo_id)
    ).scalar()
    return None if found is None else int(found)


async def occurrences_on(reads: Reads, series_id: int) -> list[Any]:
    """Return the reservation rows of a series, by start time then UltimoId."""
    return await reads.rows(_OCCURRENCES, {"series_id": series_id})


# The columns a change sets beside ``updated_at``: each set its own prebuilt statement.
_CHANGES = {
    column: DirectStatement(
        update(series).where(series.c.id == bindparam("series_id")),
        column_keys=["updated_at", column],
    )
    for column in ("skipped", "description")
}


async def change_on(writes: Writes, series_id: int, now: datetime, column: str, value: Any) -> None:
    """Set one column of a series row (``skipped`` or ``description``)."""
    await writes.write(_CHANGES[column], {"series_id": series_id, "updated_at": now, column: value})
