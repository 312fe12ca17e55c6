"""Where the current time comes from.

A normal server follows the system clock. A demo server reads the clock row every worker
shares, so pinning or shifting it (at start or through the demo API) holds everywhere.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import Connection

from roomline.storage import clock as clock_store
from roomline.storage.database import Database


class Clock(Protocol):
    # Whether the time depends on the clock row (``now_from``), so readers must read it.
    shared: bool

    def now(self, conn: Connection | sqlite3.Connection) -> datetime: ...

    def now_from(self, stored: tuple[datetime | None, int] | None) -> datetime:
        """The time, given the clock row as read elsewhere (``storage.clock.read``)."""
        ...


class SystemClock:
    shared = False

    def now(self, conn: Connection | sqlite3.Connection) -> datetime:
        return datetime.now(UTC)

    def now_from(self, stored: tuple[datetime | None, int] | None) -> datetime:
        return datetime.now(UTC)


class SharedClock:
    """The demo clock: pinned at an instant, or the system clock shifted by an offset."""

    shared = True

    def now(self, conn: Connection | sqlite3.Connection) -> datetime:
        return self.now_from(clock_store.read(conn))

    def now_from(self, stored: tuple[datetime | None, int] | None) -> datetime:
        if stored is None:
            return datetime.now(UTC)
        pinned_at, offset_seconds = stored
        if pinned_at is not None:
            return pinned_at
        return datetime.now(UTC) + timedelta(seconds=offset_seconds)


def is_pinned(conn: Connection) -> bool:
    stored = clock_store.read(conn)
    return stored is not None and stored[0] is not None


def pin(conn: Connection, instant: datetime) -> None:
    clock_store.write(conn, instant, 0)


def shift(conn: Connection, offset_seconds: int) -> None:
    clock_store.write(conn, None, offset_seconds)


def advance(conn: Connection, seconds: float) -> None:
    """Move the clock forward: a pinned clock to a later instant, a running one by a
    larger offset (whole seconds)."""
    stored = clock_store.read(conn)
    pinned_at, offset_seconds = stored if stored is not None else (None, 0)
    if pinned_at is not None:
        clock_store.write(conn, pinned_at + timedelta(seconds=seconds), 0)
    else:
        clock_store.write(conn, None, offset_seconds + round(seconds))


def seconds_of(database: Database, clock: Clock) -> Callable[[], float]:
    """``clock``'s time as epoch seconds, read in a transaction of its own (for the
    request limits' windows, which then follow a demo's clock)."""

    def now() -> float:
        with database.read() as conn:
            return clock.now(conn).timestamp()

    return now


def clock_for(demo: bool) -> Clock:
    return SharedClock() if demo else SystemClock()
