"""The hot paths on SQLite: ``SqlHotPath`` on the event loop.

Reading a few index pages never waits for a lock (WAL readers do not block), so handing
a Get to a worker thread would cost more than running it: with every request on a thread
of its own, the threads mostly fight over the GIL. A read therefore runs inline, in a
read transaction on a plain ``sqlite3`` connection that each thread keeps for itself (no
pool checkout, no SQLAlchemy transaction). A write runs in the loop's write group
(``groupcommit.GroupCommitter.run_on_loop``): on the loop too, with only the wait for the
write lock and the commit in a thread. A transaction of many statements (a series) runs
in a thread, so that the loop never waits while it holds the write lock. The use cases
over ``SqlHotPath`` never suspend, so each runs to its end inside its transaction
(``drive``).

An in-memory database, which a second connection would not see, reads in an ordinary
SQLAlchemy read transaction.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from roomline.storage import keys as key_store
from roomline.storage.database import Database, configure_sqlite_connection
from roomline.storage.direct import drive
from roomline.storage.groupcommit import busy_timeout_ms
from roomline.storage.hotpath import Clock, HotPath, SqlHotPath, Transaction, write_here
from roomline.storage.transient import retry_transient

T = TypeVar("T")


class SqliteHotPaths:
    """Runs the hot use cases on SQLite (see the module's docstring)."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock
        url = database.engine.url
        self._direct = url.database not in (None, "", ":memory:")
        self._local = threading.local()

    async def read(self, use_case: Callable[[HotPath], Awaitable[T]]) -> T:
        return self.read_here(use_case)

    def read_here(self, use_case: Callable[[HotPath], Awaitable[T]]) -> T:
        """``read`` in the calling thread."""
        if not self._direct:
            with self.database.read() as conn:
                return drive(use_case(SqlHotPath(conn, self.clock)))  # type: ignore[arg-type]
        raw = self._connection()
        raw.execute("BEGIN")
        try:
            return drive(use_case(SqlHotPath(raw, self.clock)))  # type: ignore[arg-type]
        finally:
            raw.execute("COMMIT")

    async def write(self, use_case: Callable[[HotPath], Awaitable[T]]) -> T:
        return await self.database.write_on_loop(
            lambda: write_here(self.database, self.clock, use_case)
        )

    async def transaction(self, use_case: Callable[[Transaction], Awaitable[T]]) -> T:
        return await asyncio.to_thread(
            retry_transient(write_here), self.database, self.clock, use_case
        )

    async def hash_secret_key(self) -> bytes:
        """The instance's HMAC key for API-key hashes (read once per process)."""
        known = key_store.known_hash_secret_key(self.database.engine)
        if known is not None:
            return known
        with self.database.read() as conn:
            return key_store.hash_secret_key(conn)

    async def close(self) -> None:
        pass

    def _connection(self) -> sqlite3.Connection:
        raw: sqlite3.Connection | None = getattr(self._local, "raw", None)
        if raw is None:
            engine = self.database.engine
            arguments, options = engine.dialect.create_connect_args(engine.url)
            raw = sqlite3.connect(*arguments, **{**options, "check_same_thread": True})  # type: ignore[call-overload]
            configure_sqlite_connection(raw, busy_timeout_ms(self.database.wait_seconds))
            self._local.raw = raw
        return raw
