"""Engines and transactions, with the per-database settings our guarantees rest on.

SQLite: WAL journal with ``synchronous=FULL`` (a commit that was answered survives a
crash or power loss), foreign keys on, and every write transaction opened with
``BEGIN IMMEDIATE``: it takes the database's single write lock before it reads, so the
conflict check and the insert that follows cannot interleave with another writer in any
thread or process. Reads use plain deferred transactions and never wait for writers.
Within one process, writers queue on a lock before ``BEGIN IMMEDIATE`` (SQLite's busy
handler polls with sleeps of up to 100 ms, far longer than the transaction ahead takes)
and those queued together share one transaction and one fsync (``groupcommit``); across
processes ``BEGIN IMMEDIATE`` still decides, tried every millisecond. A writer waits
``wait_seconds`` at most in all (the turn, then the lock), and a request that many for a
pooled connection; then ``ServiceUnavailable`` (503 with Retry-After).

PostgreSQL: READ COMMITTED; the no-overlap rule is an exclusion constraint, so a
concurrent writer that slipped past the check in code is stopped by the database.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import QueuePool

from roomline import metrics
from roomline.domain.errors import ServiceUnavailable
from roomline.storage.diagnosis import check_url
from roomline.storage.groupcommit import DEFAULT_WAIT_SECONDS, GroupCommitter, busy_timeout_ms

# What a database that does not answer (locked past the busy timeout, unreachable)
# raises: through SQLAlchemy, or from a ``direct`` statement on the sqlite3 connection.
DatabaseUnavailable = (OperationalError, sqlite3.OperationalError)

DEFAULT_POOL_SIZE = 10
SQLITE_POOL_SIZE = 16
SQLITE_POOL_OVERFLOW = 24
SQLITE_POOL_CAPACITY = SQLITE_POOL_SIZE + SQLITE_POOL_OVERFLOW

T = TypeVar("T")


class Database:
    """One engine, handing out read and write transactions."""

    def __init__(
        self,
        url: str,
        pool_size: int = DEFAULT_POOL_SIZE,
        wait_seconds: float = DEFAULT_WAIT_SECONDS,
    ) -> None:
        self.url = normalize_url(url)
        self.pool_size = pool_size
        self.wait_seconds = wait_seconds
        self.engine = _create_engine(self.url, pool_size, wait_seconds)
        self._capacity = pool_size if self.dialect != "sqlite" else SQLITE_POOL_CAPACITY
        _count_connections_in_use(self.engine)
        self._groups = (
            GroupCommitter(self.engine, wait_seconds=wait_seconds)
            if self.dialect == "sqlite"
            else None
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """Yield a connection in a read transaction.

        (The Ultimo workflows go through ``hotpath.HotPaths`` instead.)
        """
        with self._connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def read_statements(self) -> Iterator[Connection]:
        """Yield a connection for reads that need no snapshot beyond each statement's own.

        On PostgreSQL every statement reads on its own (autocommit): under READ COMMITTED
        each statement of a transaction takes a snapshot of its own anyway, so BEGIN and
        COMMIT around reads would add two round trips and nothing else. Elsewhere, as
        ``read()``.
        """
        if self.dialect != "postgresql":
            with self.read() as conn:
                yield conn
            return
        with self._connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """Yield a connection in a write transaction, committed if the block succeeds.

        On SQLite, writers queued in this process share the transaction and its commit
        (``groupcommit``); each still returns only after its changes are committed.
        """
        if self._groups is not None:
            with self._groups.write() as conn:
                yield conn
            return
        with self._connect() as conn:
            conn = conn.execution_options(roomline_write=True)
            with conn.begin():
                yield conn

    async def write_on_loop(self, block: Callable[[], T]) -> T:
        """SQLite: run ``block``, whose writes go through ``write()``, on the event loop.

        Blocks queued together share a transaction, and only taking the write lock and
        committing leave the loop (``groupcommit.GroupCommitter.run_on_loop``). Returns
        the block's result once its changes are committed.
        """
        if self._groups is None:
            raise RuntimeError("write_on_loop is for SQLite; PostgreSQL writes run in threads")
        return await self._groups.run_on_loop(block)

    def _connect(self) -> Connection:
        # Only a checkout made while every connection is in use may wait: only that one
        # is timed, so the others pay one comparison.
        pool = self.engine.pool
        waits = isinstance(pool, QueuePool) and pool.checkedout() >= self._capacity
        started = time.perf_counter() if waits else 0.0
        try:
            conn = self.engine.connect()
        except PoolTimeout as exc:
            metrics.POOL_TIMEOUTS.inc()
            raise ServiceUnavailable(
                "Every database connection of this worker is busy; retry shortly."
            ) from exc
        if waits:
            metrics.POOL_WAITS.observe(time.perf_counter() - started)
        return conn

    def dispose(self) -> None:
        if self._groups is not None:
            self._groups.close()
        self.engine.dispose()


def normalize_url(url: str) -> str:
    """Check ``url`` (``diagnosis.check_url``); map ``postgresql://`` and ``postgres://`` to
    the psycopg 3 driver."""
    parsed = check_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _create_engine(url: str, pool_size: int, wait_seconds: float) -> Engine:
    if make_url(url).get_backend_name() != "sqlite":
        # A hard cap per process: requests beyond it wait for a free connection (and
        # answer 503 after ``wait_seconds``), so hosts x workers x pool_size bounds
        # what PostgreSQL's max_connections must allow.
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=wait_seconds,
        )
    engine = create_engine(
        url,
        connect_args={"timeout": wait_seconds, "check_same_thread": False},
        # Keep a connection for each request a loaded worker has in flight: past the pool
        # size every checkout opens a new connection and sets its pragmas again.
        pool_size=SQLITE_POOL_SIZE,
        max_overflow=SQLITE_POOL_OVERFLOW,
        pool_timeout=wait_seconds,
    )

    def configure(dbapi_connection: Any, record: Any) -> None:
        record.info[BUSY_TIMEOUT_MS] = busy_timeout_ms(wait_seconds)
        configure_sqlite_connection(dbapi_connection, record.info[BUSY_TIMEOUT_MS])

    event.listen(engine, "connect", configure)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _count_connections_in_use(engine: Engine) -> None:
    event.listen(engine, "checkout", lambda *_: metrics.POOL_IN_USE.inc())
    event.listen(engine, "checkin", lambda *_: metrics.POOL_IN_USE.dec())


def configure_sqlite_connection(
    dbapi_connection: Any, busy_ms: int = busy_timeout_ms(DEFAULT_WAIT_SECONDS)
) -> None:
    # Take transaction control away from the sqlite3 module so ``_begin`` decides.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Every writer of a group runs in a savepoint (groupcommit), which keeps the pages it
    # changes in a sub-journal. Past 64 KiB a transaction's sub-journal became a
    # temporary file, opened, written and deleted: hundreds of system calls a group, with
    # the write lock held. In memory it never touches the disk (a Create's system time
    # halved). It holds what a savepoint may need to undo, and temporary tables.
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
    cursor.close()


# Where a pooled SQLite connection keeps its busy timeout (the pool record's info).
BUSY_TIMEOUT_MS = "roomline_busy_timeout_ms"
# How often a writer tries again for the write lock another process holds.
LOCK_POLL_SECONDS = 0.001


def _begin_sqlite_transaction(conn: Connection) -> None:
    options = conn.get_execution_options()
    if not options.get("roomline_write", False):
        conn.exec_driver_sql("BEGIN")
        return
    # SQLite's busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms between
    # its tries, so a writer behind another process's 5 ms transaction often sleeps well
    # past its end (two workers' Create: p99 434 ms). Writers try every millisecond
    # instead, with the busy handler off for this statement only.
    busy_ms = conn.connection.info[BUSY_TIMEOUT_MS]
    deadline = options.get("roomline_lock_deadline") or time.monotonic() + busy_ms / 1000
    raw = conn.connection.driver_connection
    assert raw is not None  # a connection in use always has its driver's
    raw.execute("PRAGMA busy_timeout = 0")
    try:
        while time.monotonic() < deadline:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                # The low byte is the primary code: SQLITE_BUSY_RECOVERY and the like
                # are busy too.
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                    raise
            time.sleep(LOCK_POLL_SECONDS)
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # the last try: busy, as SQLAlchemy raises it
    finally:
        raw.execute(f"PRAGMA busy_timeout = {busy_ms}")
