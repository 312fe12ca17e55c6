"""The demo clock row, shared by every worker process through the database."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from roomline.storage.direct import DirectStatement, OnConnection, Reads, drive
from roomline.storage.tables import clock

CLOCK_ROW = 1


_READ = DirectStatement(
    select(clock.c.pinned_at, clock.c.offset_seconds).where(clock.c.id == CLOCK_ROW)
)


def read(conn: Connection | sqlite3.Connection) -> tuple[datetime | None, int] | None:
    """``read_on`` in the caller's transaction."""
    return drive(read_on(OnConnection(conn)))


async def read_on(reads: Reads) -> tuple[datetime | None, int] | None:
    """Return ``(pinned_at, offset_seconds)``, or None if the clock was never set."""
    rows = await reads.rows(_READ, {})
    return None if not rows else (rows[0].pinned_at, rows[0].offset_seconds)


def write(conn: Connection, pinned_at: datetime | None, offset_seconds: int) -> None:
    values = {"pinned_at": pinned_at, "offset_seconds": offset_seconds}
    if conn.execute(update(clock).where(clock.c.id == CLOCK_ROW).values(**values)).rowcount == 0:
        conn.execute(insert(clock).values(id=CLOCK_ROW, **values))
