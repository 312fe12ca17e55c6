"""The hot paths' repository: what the four Ultimo workflows read and write, as one
interface on both databases (docs/architecture.md).

``services/reservations.py`` writes each of those use cases once, as a coroutine over
``HotPath``. The reads are shaped so that PostgreSQL can answer each in one statement:
the caller's key comes with the first read of every request, a Get's window comes with
its space, and a write's facts (space, applicant, clock, an earlier request with the same
ExternalId) come together. Writes leave the conflict check to the database (PostgreSQL's
exclusion constraint, SQLite's triggers) and record their log entry with them.

Two implementations:

- ``SqlHotPath`` runs statements on a connection its caller holds: SQLAlchemy's, or the
  sqlite3 one under it (``direct``). Its coroutines never suspend, so a use case over it
  runs to its end synchronously (``drive``): in a thread inside ``Database.write()``, or
  on the event loop inside SQLite's write group (``hotpaths.SqliteHotPaths``).
- ``pg_hot.PgHotPath`` runs on the event loop over asyncpg: one statement per read, one
  per write (its own transaction).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy import Connection

from roomline.domain.reservations import Interval, Reservation, Space
from roomline.storage import audit as audit_store
from roomline.storage import keys as key_store
from roomline.storage import masterdata
from roomline.storage import reservations as store
from roomline.storage.audit import LogEntry
from roomline.storage.database import Database
from roomline.storage.direct import DirectStatement, OnConnection, Reads, Writes, drive
from roomline.storage.keys import StoredKey
from roomline.storage.reservations import ListedReservation

T = TypeVar("T")

# The active key stored under a hash, and the hash as stored (for a constant-time compare).
FoundKey = tuple[StoredKey, str] | None


@dataclass(frozen=True, slots=True)
class NewRow:
    """A reservation to insert, as the rules have shaped it."""

    space: Space
    applicant_id: str
    description: str
    start: datetime
    end: datetime
    blocked: Interval
    api_key_id: int | None
    external_id: str
    request_fingerprint: str | None
    now: datetime


@dataclass(frozen=True, slots=True)
class GetRead:
    """A Get's first read: its key, its space, and the window if it could be read."""

    key: FoundKey
    space: Space | None
    # Read for the bounds the caller gave; None when none were given.
    window: list[ListedReservation] | None


@dataclass(frozen=True, slots=True)
class CreateRead:
    """What a create decides on."""

    key: FoundKey
    space: Space | None
    applicant_known: bool
    now: datetime
    # The reservation this key created earlier with the request's ExternalId (UltimoId),
    # and the fingerprint of that request.
    earlier: tuple[int, str | None] | None


@dataclass(frozen=True, slots=True)
class ChangeRead:
    """What an update or a cancel decides on."""

    key: FoundKey
    current: Reservation | None
    # The row's version as read (PostgreSQL's xmin): the write applies only if the row is
    # still this version. None where the read locked the row until the write commits.
    version: str | None
    space: Space | None
    now: datetime


class Clock(Protocol):
    def now(self, conn: Connection | sqlite3.Connection) -> datetime: ...


class ClockedReads(Reads, Protocol):
    """Prebuilt reads, and the server's clock where they run."""

    async def now(self) -> datetime:
        """The server's clock (the demo's, shared through the database, where it runs)."""
        ...


class Transaction(Writes, ClockedReads, Protocol):
    """Prebuilt reads and writes in one transaction, for a use case of many statements
    (a series): ``HotPaths.transaction``."""


class HotPath(ClockedReads, Protocol):
    """The reads and writes of the hot use cases (see the module's docstring), and any
    prebuilt read (``Reads.rows``: one reservation, finding a room, the change feed)."""

    async def read_key(self, secret_hash: str | None) -> FoundKey: ...

    async def read_get(
        self, secret_hash: str | None, space_id: str, bounds: tuple[datetime, datetime] | None
    ) -> GetRead: ...

    async def window(
        self, space_id: str, start: datetime, end: datetime
    ) -> list[ListedReservation]: ...

    async def read_create(
        self,
        secret_hash: str | None,
        api_key_id: int | None,
        space_id: str,
        applicant_id: str,
        external_id: str,
    ) -> CreateRead: ...

    async def earlier_create(
        self, api_key_id: int | None, external_id: str
    ) -> tuple[int, str | None] | None: ...

    async def insert(self, row: NewRow, entry: LogEntry) -> int:
        """Insert ``row`` and record ``entry``; return the UltimoId. Raises
        ``SpaceNotAvailable``, ``store.ExternalIdTaken``, ``UnknownSpace`` or
        ``UnknownApplicant`` when the database refuses it."""
        ...

    async def read_change(self, secret_hash: str | None, ultimo_id: int) -> ChangeRead: ...

    async def move(
        self,
        read: ChangeRead,
        space: Space,
        start: datetime,
        end: datetime,
        blocked: Interval,
        entry: LogEntry,
    ) -> bool:
        """Move the reservation read; False if it changed since (read it again)."""
        ...

    async def cancel(self, read: ChangeRead, entry: LogEntry) -> bool:
        """Cancel the reservation read; False if it changed since (read it again)."""
        ...

    async def check_in(self, read: ChangeRead, by: str | None, entry: LogEntry) -> bool:
        """Record a check-in of the reservation read, at ``read.now`` by ``by``; False if
        it changed since (read it again)."""
        ...

    async def end_early(
        self, read: ChangeRead, end: datetime, blocked: Interval, entry: LogEntry
    ) -> bool:
        """Cut the end of the reservation read to ``end``; False if it changed since."""
        ...


class HotPaths(Protocol):
    """Runs a hot use case over the database's ``HotPath`` (``sqlite_hot``, ``pg_hot``)."""

    async def read(self, use_case: Callable[[HotPath], Awaitable[T]]) -> T: ...

    async def write(self, use_case: Callable[[HotPath], Awaitable[T]]) -> T:
        """Run ``use_case`` as one write; return once it has committed."""
        ...

    async def transaction(self, use_case: Callable[[Transaction], Awaitable[T]]) -> T:
        """Run ``use_case`` in one transaction of its own, again when the database aborted
        it for its timing (a deadlock victim); return once it has committed. For use
        cases of many statements: on PostgreSQL on the event loop, on SQLite in a thread
        (the write lock is held throughout, which the loop must not wait for)."""
        ...

    async def hash_secret_key(self) -> bytes: ...

    async def close(self) -> None: ...


# As stored: ListedReservation wants the times as UTC text, which SQLite stores.
STORED_WINDOW = DirectStatement(store.IN_WINDOW, stored_form=True)


class SqlHotPath(OnConnection):
    """``HotPath`` over a connection the caller holds (and, for writes, its transaction).

    ``conn`` is an SQLAlchemy connection, or on SQLite the sqlite3 connection of a read
    transaction (``hotpaths``). The hash of a key is looked up with the statements of
    ``storage.keys``; the rest with those of ``storage.reservations`` and ``masterdata``.
    """

    def __init__(self, conn: Connection | sqlite3.Connection, clock: Clock) -> None:
        super().__init__(conn)
        self.clock = clock

    async def read_key(self, secret_hash: str | None) -> FoundKey:
        if secret_hash is None:
            return None
        return key_store.active_with_hash(self.conn, secret_hash)

    async def read_get(
        self, secret_hash: str | None, space_id: str, bounds: tuple[datetime, datetime] | None
    ) -> GetRead:
        key = await self.read_key(secret_hash)
        space = masterdata.get_space(self.conn, space_id)
        window = None
        if bounds is not None and space is not None:
            window = await self.window(space_id, *bounds)
        return GetRead(key, space, window)

    async def window(
        self, space_id: str, start: datetime, end: datetime
    ) -> list[ListedReservation]:
        if isinstance(self.conn, sqlite3.Connection):
            bounds = {"space_id": space_id, "start": start, "end": end}
            return [ListedReservation(*row) for row in STORED_WINDOW.all(self.conn, bounds)]
        return store.in_window(self.conn, space_id, start, end)

    async def read_create(
        self,
        secret_hash: str | None,
        api_key_id: int | None,
        space_id: str,
        applicant_id: str,
        external_id: str,
    ) -> CreateRead:
        conn = self._writing()
        key = await self.read_key(secret_hash)
        if key is not None:
            api_key_id = key[0].id
        earlier = await self.earlier_create(api_key_id, external_id) if external_id else None
        return CreateRead(
            key,
            masterdata.get_space(conn, space_id),
            masterdata.get_person(conn, applicant_id) is not None,
            self.clock.now(conn),
            earlier,
        )

    async def earlier_create(
        self, api_key_id: int | None, external_id: str
    ) -> tuple[int, str | None] | None:
        found = store.by_external_id(self._writing(), api_key_id, external_id)
        return None if found is None else (found[0].ultimo_id, found[1])

    async def insert(self, row: NewRow, entry: LogEntry) -> int:
        self._writing()
        ultimo_id = await store.insert_reservation_on(
            self,
            space=row.space,
            applicant_id=row.applicant_id,
            description=row.description,
            start=row.start,
            end=row.end,
            blocked=row.blocked,
            api_key_id=row.api_key_id,
            external_id=row.external_id,
            request_fingerprint=row.request_fingerprint,
            now=row.now,
        )
        await audit_store.add_entry_on(self, entry, ultimo_id)
        return ultimo_id

    async def read_change(self, secret_hash: str | None, ultimo_id: int) -> ChangeRead:
        conn = self._writing()
        key = await self.read_key(secret_hash)
        # Locked until the write commits (PostgreSQL; SQLite's write lock already holds):
        # two writes of one reservation run one after the other.
        current = store.get_for_update(conn, ultimo_id)
        space = None if current is None else masterdata.get_space(conn, current.space_id)
        return ChangeRead(key, current, None, space, self.clock.now(conn))

    async def now(self) -> datetime:
        return self.clock.now(self.conn)

    async def move(
        self,
        read: ChangeRead,
        space: Space,
        start: datetime,
        end: datetime,
        blocked: Interval,
        entry: LogEntry,
    ) -> bool:
        self._writing()
        assert read.current is not None
        await store.move_on(self, read.current, space, start, end, blocked, read.now)
        await audit_store.add_entry_on(self, entry, read.current.ultimo_id)
        return True

    async def cancel(self, read: ChangeRead, entry: LogEntry) -> bool:
        self._writing()
        assert read.current is not None
        await store.cancel_on(self, read.current.ultimo_id, read.now)
        await audit_store.add_entry_on(self, entry, read.current.ultimo_id)
        return True

    async def check_in(self, read: ChangeRead, by: str | None, entry: LogEntry) -> bool:
        conn = self._writing()
        assert read.current is not None
        store.check_in(conn, read.current.ultimo_id, read.now, by)
        await audit_store.add_entry_on(self, entry, read.current.ultimo_id)
        return True

    async def end_early(
        self, read: ChangeRead, end: datetime, blocked: Interval, entry: LogEntry
    ) -> bool:
        conn = self._writing()
        assert read.current is not None
        store.end_early(conn, read.current.ultimo_id, end, blocked, read.now)
        await audit_store.add_entry_on(self, entry, read.current.ultimo_id)
        return True

    def _writing(self) -> Connection:
        if isinstance(self.conn, sqlite3.Connection):
            raise RuntimeError("writes need the SQLAlchemy connection of a write transaction")
        return self.conn


def write_here(
    database: Database, clock: Clock, use_case: Callable[[SqlHotPath], Awaitable[T]]
) -> T:
    """Run ``use_case`` over ``SqlHotPath`` in a write transaction of the calling thread."""
    with database.write() as conn:
        return drive(use_case(SqlHotPath(conn, clock)))  # type: ignore[arg-type]
