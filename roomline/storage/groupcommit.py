"""Group commit for SQLite: writers queued in one process share one transaction and fsync.

With ``synchronous=FULL`` every commit waits for an fsync of the WAL (milliseconds on
common disks), and SQLite writers take turns, so one process can commit only a few
hundred transactions a second however little each does. Writers that queue behind each
other therefore share one transaction:

- the first writer opens it with ``BEGIN IMMEDIATE`` (the database's write lock, as every
  write transaction here does); each writer runs its block in its own SAVEPOINT, so a
  block that raises undoes exactly its own changes;
- the writer that finds no one queued behind it (or fills the group) commits once, for
  all of them, while the others wait for that commit;
- nobody returns before the commit that holds their changes has succeeded, and if that
  commit fails every writer of the group fails with it, even one whose block had raised
  a business error (it may have seen a write of the group that then never committed).

To each writer this is exactly a serial transaction of its own that commits before it
returns: the no-overlap rule (write lock, triggers) and durability are unchanged.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

MAX_GROUP = 32


class _Group:
    def __init__(self, conn: Connection, transaction: Any) -> None:
        self.conn = conn
        self.transaction = transaction
        self.members = 0
        self.committed = threading.Event()
        self.error: BaseException | None = None


class GroupCommitter:
    """Hands out write transactions on one SQLite engine, committing queued ones together."""

    def __init__(self, engine: Engine, max_group: int = MAX_GROUP) -> None:
        self.engine = engine
        self.max_group = max_group
        self._turn = threading.Lock()  # held by the writer whose block runs, and by the commit
        self._queue = threading.Lock()
        self._queued = 0
        self._owner: int | None = None
        self._group: _Group | None = None

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """Yield a connection in a write transaction; return once it has committed."""
        if self._owner == threading.get_ident():
            raise RuntimeError("a write transaction is already open in this thread")
        with self._queue:
            self._queued += 1
        self._turn.acquire()
        with self._queue:
            self._queued -= 1
        self._owner = threading.get_ident()
        try:
            group = self._join()
            savepoint = _Savepoint(group.conn)
        except BaseException as exc:
            self._abandon(self._group, exc)
            raise
        failure: BaseException | None = None
        try:
            yield group.conn
        except BaseException as exc:
            failure = exc
            try:
                savepoint.rollback()
            except BaseException as broken:
                self._abandon(group, broken)
                raise
        else:
            try:
                savepoint.release()
            except BaseException as broken:
                self._abandon(group, broken)
                raise
        with self._queue:
            last = self._queued == 0 or group.members >= self.max_group
        if last:
            self._commit(group)
        else:
            self._owner = None
            self._turn.release()
            group.committed.wait()
        if group.error is not None:
            raise _copy(group.error) from failure
        if failure is not None:
            raise failure

    def _join(self) -> _Group:
        if self._group is None:
            conn = self.engine.connect().execution_options(roomline_write=True)
            try:
                transaction = conn.begin()
            except BaseException:
                conn.close()
                raise
            self._group = _Group(conn, transaction)
        self._group.members += 1
        return self._group

    def _commit(self, group: _Group) -> None:
        """Commit ``group`` (holding the turn), wake its writers, and pass the turn on."""
        self._group = None
        try:
            group.transaction.commit()
        except BaseException as exc:
            group.error = exc
            with suppress(BaseException):  # the connection is closed below either way
                group.transaction.rollback()
        finally:
            group.conn.close()
            group.committed.set()
            self._owner = None
            self._turn.release()

    def _abandon(self, group: _Group | None, error: BaseException) -> None:
        """The shared transaction is unusable: roll it back and fail every writer in it."""
        if group is not None:
            self._group = None
            group.error = error
            with suppress(BaseException):  # the connection is closed below either way
                group.transaction.rollback()
            group.conn.close()
            group.committed.set()
        self._owner = None
        self._turn.release()


class _Savepoint:
    """One writer's SAVEPOINT, issued on the driver connection.

    Writers hold the turn one at a time, so one name serves them all. SQLAlchemy's
    nested transactions would do the same with several times the Python per write.
    """

    def __init__(self, conn: Connection) -> None:
        raw = conn.connection.driver_connection
        assert raw is not None  # an open connection of the group
        self.raw = raw
        self.raw.execute("SAVEPOINT writer")

    def release(self) -> None:
        self.raw.execute("RELEASE writer")

    def rollback(self) -> None:
        self.raw.execute("ROLLBACK TO writer")
        self.raw.execute("RELEASE writer")


def _copy(error: BaseException) -> BaseException:
    """A fresh exception per writer: one instance raised in many threads tangles tracebacks."""
    if isinstance(error, DBAPIError) and error.orig is not None:
        return type(error)(error.statement, error.params, error.orig)
    if isinstance(error, sqlite3.Error):  # from a direct statement
        return type(error)(*error.args)
    return RuntimeError(f"the shared write transaction failed: {error!r}")
