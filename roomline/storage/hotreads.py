"""The reads every Ultimo request makes (its key; a Get's space and window), made cheap.

On SQLite they run on a plain ``sqlite3`` connection that each thread keeps for itself,
as ``direct`` statements: no pool checkout, no SQLAlchemy transaction, two statements
for BEGIN and COMMIT. A Get's rows stay as stored (times as UTC text), because the answer
only writes them out again.

PostgreSQL gets the same interface over an SQLAlchemy connection whose statements each
read on their own (``Database.read_statements``: under READ COMMITTED a transaction gives
each statement its own snapshot anyway, and BEGIN and COMMIT were two of a Get's six
round trips). An in-memory SQLite database, which a second connection would not see,
reads in an ordinary SQLAlchemy read transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection

from roomline.domain.reservations import Space
from roomline.domain.times import utc_text
from roomline.storage import keys as key_store
from roomline.storage import masterdata
from roomline.storage import reservations as reservation_store
from roomline.storage.database import Database, configure_sqlite_connection
from roomline.storage.direct import DirectStatement
from roomline.storage.groupcommit import busy_timeout_ms
from roomline.storage.keys import StoredKey
from roomline.storage.reservations import ListedReservation


class HotReads(Protocol):
    """The reads of one request: in one read transaction on SQLite, each statement on its
    own on PostgreSQL (which under READ COMMITTED is what a transaction would give)."""

    def hash_key(self) -> bytes: ...

    def active_key(self, secret_hash: str) -> tuple[StoredKey, str] | None: ...

    def space(self, space_id: str) -> Space | None: ...

    def window(self, space_id: str, start: datetime, end: datetime) -> list[ListedReservation]: ...


class HotReader:
    """Opens the hot read transactions of one database."""

    def __init__(self, database: Database) -> None:
        self.database = database
        url = database.engine.url
        self._direct = database.dialect == "sqlite" and url.database not in (None, "", ":memory:")
        self._local = threading.local()

    @contextmanager
    def read(self) -> Iterator[HotReads]:
        """Yield the reads of one request (one snapshot on SQLite; see ``HotReads``)."""
        if not self._direct:
            with self.database.read_statements() as conn:
                yield CoreReads(conn)
            return
        raw = self._connection()
        raw.execute("BEGIN")
        try:
            yield _SQLiteReads(self.database, raw)
        finally:
            raw.execute("COMMIT")

    def _connection(self) -> sqlite3.Connection:
        raw: sqlite3.Connection | None = getattr(self._local, "raw", None)
        if raw is None:
            engine = self.database.engine
            arguments, options = engine.dialect.create_connect_args(engine.url)
            raw = sqlite3.connect(*arguments, **{**options, "check_same_thread": True})  # type: ignore[call-overload]
            configure_sqlite_connection(raw, busy_timeout_ms(self.database.wait_seconds))
            self._local.raw = raw
        return raw


class CoreReads:
    """The hot reads through an open SQLAlchemy connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def hash_key(self) -> bytes:
        return key_store.hash_secret_key(self.conn)

    def active_key(self, secret_hash: str) -> tuple[StoredKey, str] | None:
        return key_store.active_with_hash(self.conn, secret_hash)

    def space(self, space_id: str) -> Space | None:
        return masterdata.get_space(self.conn, space_id)

    def window(self, space_id: str, start: datetime, end: datetime) -> list[ListedReservation]:
        return reservation_store.in_window(self.conn, space_id, start, end)


# As stored: ListedReservation wants the times as UTC text, which SQLite stores, and
# the window's bounds compare as that text too.
_WINDOW = DirectStatement(reservation_store.IN_WINDOW, stored_form=True)


class _SQLiteReads:
    def __init__(self, database: Database, raw: sqlite3.Connection) -> None:
        self.database = database
        self.raw = raw

    def hash_key(self) -> bytes:
        # Read once per process and then kept (see ``keys.hash_secret_key``).
        known = key_store.known_hash_secret_key(self.database.engine)
        if known is not None:
            return known
        with self.database.read() as conn:
            return key_store.hash_secret_key(conn)

    def active_key(self, secret_hash: str) -> tuple[StoredKey, str] | None:
        return key_store.active_with_hash(self.raw, secret_hash)

    def space(self, space_id: str) -> Space | None:
        return masterdata.get_space(self.raw, space_id)

    def window(self, space_id: str, start: datetime, end: datetime) -> list[ListedReservation]:
        bounds = {"space_id": space_id, "start": utc_text(start), "end": utc_text(end)}
        rows = _WINDOW.all(self.raw, bounds)
        return [ListedReservation(*row) for row in rows]
