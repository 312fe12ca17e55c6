"""The demo clock row, shared by every worker process through the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from roomline.storage.tables import clock

CLOCK_ROW = 1


def read(conn: Connection) -> tuple[datetime | None, int] | None:
    """Return ``(pinned_at, offset_seconds)``, or None if the clock was never set."""
    row = conn.execute(select(clock).where(clock.c.id == CLOCK_ROW)).first()
    return None if row is None else (row.pinned_at, row.offset_seconds)


def write(conn: Connection, pinned_at: datetime | None, offset_seconds: int) -> None:
    values = {"pinned_at": pinned_at, "offset_seconds": offset_seconds}
    if conn.execute(update(clock).where(clock.c.id == CLOCK_ROW).values(**values)).rowcount == 0:
        conn.execute(insert(clock).values(id=CLOCK_ROW, **values))
