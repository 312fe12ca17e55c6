"""Where background work has got to (``job_state``), one row per job name."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from roomline.storage.direct import DirectStatement, OnConnection, Reads, drive
from roomline.storage.tables import job_state

_CURSOR = DirectStatement(select(job_state.c.cursor).where(job_state.c.name == bindparam("name")))
# A delivery round claims and moves its cursor with SQLite's write lock held, which every
# reservation write waits for: prebuilt, each is a few microseconds where SQLAlchemy's
# execution took hundreds (storage/direct.py).
_CLAIM = DirectStatement(
    select(job_state.c.cursor).where(job_state.c.name == bindparam("name")).with_for_update()
)
_SET_CURSOR = DirectStatement(
    update(job_state)
    .where(job_state.c.name == bindparam("job"))
    .values(cursor=bindparam("value"), updated_at=bindparam("now"))
)


async def cursor(reads: Reads, name: str) -> int | None:
    """The cursor recorded for ``name`` (None if it never recorded one)."""
    rows = await reads.rows(_CURSOR, {"name": name})
    return None if not rows else rows[0].cursor  # type: ignore[no-any-return]


def cursor_in(conn: Connection, name: str) -> int | None:
    """``cursor`` in the caller's transaction."""
    return drive(cursor(OnConnection(conn), name))


def claim(conn: Connection, name: str, now: datetime) -> int | None:
    """Lock ``name``'s row until the caller's write transaction ends (creating it if new)
    and return its cursor. A second worker claiming it waits for the first to commit
    (PostgreSQL's row lock; SQLite's one write transaction)."""
    row = _CLAIM.first(conn, {"name": name})
    if row is not None:
        return row.cursor  # type: ignore[no-any-return]
    # Two workers may both find no row: the second one's insert does nothing.
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(job_state)
        .values(name=name, cursor=None, updated_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return _CLAIM.first(conn, {"name": name}).cursor  # type: ignore[no-any-return,union-attr]


def set_cursor(conn: Connection, name: str, value: int, now: datetime) -> None:
    """Record ``value`` as ``name``'s cursor (the row must have been claimed)."""
    _SET_CURSOR.write(conn, {"job": name, "value": value, "now": now})


def raise_cursor(conn: Connection, name: str, value: int, now: datetime) -> None:
    """Record ``value`` as ``name``'s cursor unless it holds a larger one already."""
    current = claim(conn, name, now)
    if current is None or value > current:
        set_cursor(conn, name, value, now)
