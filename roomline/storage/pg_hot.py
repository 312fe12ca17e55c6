"""The hot paths on PostgreSQL: ``HotPath`` over asyncpg, on the event loop.

Through SQLAlchemy in threadpool threads a Get took four round trips and a worker held
the GIL a third of the time; the rest was waiting. Here each read is one statement (a
request's key comes with it, and a Get's window with its space), and each write is one
statement that is its own transaction: the reservation's insert or update, the log's
advisory lock (``storage.audit``: entries are numbered in commit order) and the log entry
together. asyncpg was chosen by measurement (docs/architecture.md): a prepared query
costs it about 35 µs of CPU here against 80-120 µs for psycopg's async connections.

Every guarantee of the threaded path holds:

- the exclusion constraint decides conflicts, as before (the write is refused with
  23P01, ``SpaceNotAvailable``);
- two writes of one reservation never both act on the state before the other: an
  update or cancel applies only if the row is still the version it read (``xmin``), and
  reads it again otherwise (instead of ``SELECT ... FOR UPDATE``, which needs a
  transaction open across round trips);
- a deadlock or serialization failure is run again (``PgHotPaths.write``);
- a use case of many statements (a series) runs in one transaction of its own on one
  pooled connection (``PgHotPaths.transaction``, ``PgTransaction``), with a savepoint
  around each statement the database may refuse;
- a pool with no free connection within the wait, and a database that does not answer,
  become ``ServiceUnavailable`` (503 with Retry-After); a connection the server closed is
  replaced by the pool on its next use.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
import orjson
from sqlalchemy.engine import make_url

from roomline import metrics
from roomline.domain.errors import (
    ServiceUnavailable,
    SpaceNotAvailable,
)
from roomline.domain.reservations import Interval, Reservation, ReservationStatus, Space
from roomline.storage import clock as clock_store
from roomline.storage.audit import LOG_LOCK, LogEntry
from roomline.storage.direct import DirectStatement, Values
from roomline.storage.hotpath import (
    ChangeRead,
    CreateRead,
    FoundKey,
    GetRead,
    HotPath,
    NewRow,
    Transaction,
)
from roomline.storage.keys import StoredKey
from roomline.storage.masterdata import features_of
from roomline.storage.reservations import SPACE_LOCK, ListedReservation, refusal_of
from roomline.storage.transient import ATTEMPTS, TRANSIENT_SQLSTATES, backoff

T = TypeVar("T")

# The tables' columns in the order the rows below are read.
_KEY = (
    "k.id, k.name, k.workflows, k.ip_allow, k.daily_quota, k.created_at, k.revoked_at, "
    "k.secret_hash"
)
_SPACE = (
    "s.id, s.description, s.time_zone, s.preparation_minutes, s.cleanup_minutes, s.capacity, "
    "s.bookable, s.building, s.floor, s.features, s.check_in_required, "
    "s.check_in_opens_minutes, s.auto_release_minutes"
)
_RESERVATION = (
    "r.ultimo_id, r.space_id, r.applicant_id, r.description, r.start_time, r.end_time, "
    "r.preparation_minutes, r.cleanup_minutes, r.status, r.external_id, r.series_id, "
    "r.checked_in_at, r.checked_in_by, r.released_at, r.ended_at"
)
_KEY_COLUMNS, _SPACE_COLUMNS, _RESERVATION_COLUMNS = 8, 13, 15
# As SQLite stores it (``times.utc_text``), which a Get's answer is written from.
_UTC_TEXT = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
_PROCESSED = ReservationStatus.PROCESSED.value

# One row: the key, the space, and the window's reservations as an array of rows (one
# row, so the key's and the space's columns are not repeated and decoded for each
# reservation). $1 key hash, $2 space, $3 and $4 the window (NULL: not read). As in
# ``reservations.in_window``, only the latest active reservation starting before the
# window can reach into it, so the index range starts there.
_GET = f"""
SELECT {_KEY}, {_SPACE}, ARRAY(
    SELECT ROW(r.ultimo_id, r.description, r.applicant_id, p.name,
               {_UTC_TEXT.format("r.start_time")}, {_UTC_TEXT.format("r.end_time")},
               {_UTC_TEXT.format("r.blocked_start")}, {_UTC_TEXT.format("r.blocked_end")},
               r.status)
    FROM reservations AS r JOIN people AS p ON p.id = r.applicant_id
    WHERE r.space_id = $2 AND r.status = '{_PROCESSED}'
      AND r.start_time >= COALESCE((
          SELECT before.start_time FROM reservations AS before
          WHERE before.space_id = $2 AND before.status = '{_PROCESSED}'
            AND before.start_time < $3
          ORDER BY before.start_time DESC LIMIT 1), $3)
      AND r.start_time < $4 AND r.end_time > $3
    ORDER BY r.start_time, r.ultimo_id
) AS window
FROM (SELECT 1) AS one
LEFT JOIN api_keys AS k ON k.secret_hash = $1 AND k.revoked_at IS NULL
LEFT JOIN spaces AS s ON s.id = $2
"""

_KEY_ONLY = f"SELECT {_KEY} FROM api_keys AS k WHERE k.secret_hash = $1 AND k.revoked_at IS NULL"

# $1 key hash, $2 space, $3 applicant, $4 ExternalId ('' for none), $5 the key's id when
# the key was admitted already (no $1).
_CREATE_FACTS = f"""
SELECT {_KEY}, {_SPACE},
       EXISTS (SELECT 1 FROM people WHERE id = $3) AS applicant_known,
       c.pinned_at, c.offset_seconds, e.ultimo_id, e.request_fingerprint
FROM (SELECT 1) AS one
LEFT JOIN api_keys AS k ON k.secret_hash = $1 AND k.revoked_at IS NULL
LEFT JOIN spaces AS s ON s.id = $2
LEFT JOIN clock AS c ON c.id = 1
LEFT JOIN reservations AS e
       ON $4 <> '' AND e.external_id = $4 AND e.api_key_id = COALESCE(k.id, $5::integer)
"""

_EARLIER = """
SELECT ultimo_id, request_fingerprint FROM reservations
WHERE api_key_id = $1 AND external_id = $2
"""
_EARLIER_WITHOUT_KEY = """
SELECT ultimo_id, request_fingerprint FROM reservations
WHERE api_key_id IS NULL AND external_id = $1
"""

# $1 key hash, $2 UltimoId. The row's version (xmin) is what the write checks.
_CHANGE_FACTS = f"""
SELECT {_KEY}, {_RESERVATION}, r.xmin::text AS version, {_SPACE},
       c.pinned_at, c.offset_seconds
FROM (SELECT 1) AS one
LEFT JOIN api_keys AS k ON k.secret_hash = $1 AND k.revoked_at IS NULL
LEFT JOIN reservations AS r ON r.ultimo_id = $2
LEFT JOIN spaces AS s ON s.id = r.space_id
LEFT JOIN clock AS c ON c.id = 1
"""

_LOG_VALUES = ("at", "action", "workflow", "key_name", "address", "request_id", "before", "space")


def _log(first: int, *, new_reservation: bool) -> str:
    """The rest of a write's statement: its log entry (the write took the log's lock
    first, ``_TURN``). The entry's values are parameters ``first`` on (``_entry_values``),
    then its after state: for a new reservation, the JSON before and after the number the
    insert gave."""
    at = {name: f"${first + index}" for index, name in enumerate(_LOG_VALUES)}
    state = first + len(_LOG_VALUES)
    after = (
        f"${state} || changed.ultimo_id::text || ${state + 1}" if new_reservation else f"${state}"
    )
    return f"""
logged AS (
    INSERT INTO audit_log (at, action, workflow, ultimo_id, key_name, client_address,
                           request_id, before_state, after_state, space_id)
    SELECT {at["at"]}, {at["action"]}, {at["workflow"]}, changed.ultimo_id, {at["key_name"]},
           {at["address"]}, {at["request_id"]}, {at["before"]}, {after}, {at["space"]}
    FROM changed
)
SELECT ultimo_id FROM changed
"""


# Every write takes the log's lock first (``storage.audit``: entries are numbered in
# commit order) and then its space's turn (``reservations.take_space_turn_on``), before it
# writes a row: one order of locks everywhere, so no two writes (nor two groups of
# ``WriteGroups``, which hold the log's lock from their first write to their commit) can
# each hold what the other waits for.
_TURN = (
    f"(SELECT pg_advisory_xact_lock({SPACE_LOCK}, hashtext($1))"
    f" FROM (SELECT pg_advisory_xact_lock({LOG_LOCK})) AS log) AS turn"
)
_LOG_TURN = f"(SELECT pg_advisory_xact_lock({LOG_LOCK})) AS turn"

_INSERT = f"""
WITH changed AS (
    INSERT INTO reservations (space_id, applicant_id, description, start_time, end_time,
        preparation_minutes, cleanup_minutes, blocked_start, blocked_end, status,
        api_key_id, external_id, request_fingerprint, created_at, updated_at)
    SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14
    FROM {_TURN}
    -- An overlap (the exclusion constraint) or the key's ExternalId taken inserts nothing:
    -- an error would undo the other writes of its group.
    ON CONFLICT DO NOTHING
    RETURNING ultimo_id
),""" + _log(15, new_reservation=True)

# A reservation changed on its own becomes an exception of its series, if it has one.
_MOVE = f"""
WITH changed AS (
    UPDATE reservations SET start_time = $4, end_time = $5, preparation_minutes = $6,
        cleanup_minutes = $7, blocked_start = $8, blocked_end = $9, updated_at = $10,
        series_exception = series_id IS NOT NULL
    FROM {_TURN}
    WHERE ultimo_id = $2 AND xmin = $3::text::xid
    RETURNING ultimo_id
),""" + _log(11, new_reservation=False)

_CANCEL = f"""
WITH changed AS (
    UPDATE reservations SET status = '{ReservationStatus.CANCELLED.value}', updated_at = $3,
        series_exception = series_id IS NOT NULL
    FROM {_LOG_TURN}
    WHERE ultimo_id = $1 AND xmin = $2::text::xid
    RETURNING ultimo_id
),""" + _log(4, new_reservation=False)

# At the door: neither can overlap anything (a check-in changes no time, an early end
# only shortens), so they take the log's turn and not their space's, as a cancel.
_CHECK_IN = f"""
WITH changed AS (
    UPDATE reservations SET checked_in_at = $3, checked_in_by = $4, updated_at = $3
    FROM {_LOG_TURN}
    WHERE ultimo_id = $1 AND xmin = $2::text::xid
    RETURNING ultimo_id
),""" + _log(5, new_reservation=False)

_END_EARLY = f"""
WITH changed AS (
    UPDATE reservations SET end_time = $3, blocked_end = $4, ended_at = $5, updated_at = $5,
        series_exception = series_id IS NOT NULL
    FROM {_LOG_TURN}
    WHERE ultimo_id = $1 AND xmin = $2::text::xid
    RETURNING ultimo_id
),""" + _log(6, new_reservation=False)

_HASH_SECRET = "SELECT value FROM instance_secrets WHERE name = 'api_key_hmac'"


class PgHotPath:
    """``HotPath`` over an asyncpg pool (see the module's docstring)."""

    def __init__(self, pool: PgPool, shared_clock: Any | None) -> None:
        self.pool = pool
        self.writes = WriteGroups(pool)
        # The demo's clock (``services.clock.SharedClock``), read with every write's
        # facts; None: the system's.
        self.shared_clock = shared_clock

    async def read_key(self, secret_hash: str | None) -> FoundKey:
        if secret_hash is None:
            return None
        rows = await self.pool.fetch(_KEY_ONLY, secret_hash)
        return _key(rows[0], 0) if rows else None

    async def read_get(
        self, secret_hash: str | None, space_id: str, bounds: tuple[datetime, datetime] | None
    ) -> GetRead:
        start, end = bounds if bounds is not None else (None, None)
        rows = await self.pool.fetch(_GET, secret_hash, space_id, start, end)
        row = rows[0]
        space = _space(row, _KEY_COLUMNS)
        window = None
        if bounds is not None and space is not None:
            listed = row[_KEY_COLUMNS + _SPACE_COLUMNS]
            window = [ListedReservation(*reservation) for reservation in listed]
        return GetRead(_key(row, 0), space, window)

    async def window(
        self, space_id: str, start: datetime, end: datetime
    ) -> list[ListedReservation]:
        read = await self.read_get(None, space_id, (start, end))
        return read.window or []

    async def read_create(
        self,
        secret_hash: str | None,
        api_key_id: int | None,
        space_id: str,
        applicant_id: str,
        external_id: str,
    ) -> CreateRead:
        rows = await self.pool.fetch(
            _CREATE_FACTS, secret_hash, space_id, applicant_id, external_id, api_key_id
        )
        row = rows[0]
        at = _KEY_COLUMNS + _SPACE_COLUMNS
        earlier = None if row[at + 3] is None else (row[at + 3], row[at + 4])
        return CreateRead(
            _key(row, 0),
            _space(row, _KEY_COLUMNS),
            row[at],
            self._now(row[at + 1], row[at + 2]),
            earlier,
        )

    async def earlier_create(
        self, api_key_id: int | None, external_id: str
    ) -> tuple[int, str | None] | None:
        if api_key_id is None:
            rows = await self.pool.fetch(_EARLIER_WITHOUT_KEY, external_id)
        else:
            rows = await self.pool.fetch(_EARLIER, api_key_id, external_id)
        return None if not rows else (rows[0][0], rows[0][1])

    async def insert(self, row: NewRow, entry: LogEntry) -> int:
        space = row.space
        before_id, after_id = entry.after_state_around_id()
        try:
            rows = await self.writes.run(
                _INSERT,
                space.id,
                row.applicant_id,
                row.description,
                row.start,
                row.end,
                space.preparation_minutes,
                space.cleanup_minutes,
                row.blocked.start,
                row.blocked.end,
                _PROCESSED,
                row.api_key_id,
                row.external_id,
                row.request_fingerprint,
                row.now,
                *_entry_values(entry),
                before_id,
                after_id,
            )
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise _refusal(exc, space, row.applicant_id) from exc
        if not rows:  # ON CONFLICT DO NOTHING: an overlap, or the ExternalId taken
            raise SpaceNotAvailable(space.display_name)
        return int(rows[0][0])

    async def read_change(self, secret_hash: str | None, ultimo_id: int) -> ChangeRead:
        rows = await self.pool.fetch(_CHANGE_FACTS, secret_hash, ultimo_id)
        row = rows[0]
        at = _KEY_COLUMNS
        current = None if row[at] is None else _reservation(row, at)
        at += _RESERVATION_COLUMNS
        version = row[at]
        space = _space(row, at + 1)
        at += 1 + _SPACE_COLUMNS
        return ChangeRead(_key(row, 0), current, version, space, self._now(row[at], row[at + 1]))

    async def rows(self, statement: DirectStatement, values: Values) -> list[Any]:
        form = statement.on_postgresql
        return form.rows(await self.pool.fetch(form.sql, *form.arguments(values)))

    async def rows_each(
        self, statement: DirectStatement, each: Sequence[Values]
    ) -> list[list[Any]]:
        # Side by side on the pool's connections: a schedule of 50 spaces is 50 statements
        # the server can answer on several cores instead of one after another. At most
        # half the pool at a time, so the requests beside it still find a connection.
        side_by_side = max(1, self.pool.size // 2)
        answers: list[list[Any]] = []
        for first in range(0, len(each), side_by_side):
            batch = each[first : first + side_by_side]
            answers += await asyncio.gather(*(self.rows(statement, values) for values in batch))
        return answers

    async def now(self) -> datetime:
        if self.shared_clock is None:
            return datetime.now(UTC)
        stored = await clock_store.read_on(self)
        return self.shared_clock.now_from(stored)  # type: ignore[no-any-return]

    async def move(
        self,
        read: ChangeRead,
        space: Space,
        start: datetime,
        end: datetime,
        blocked: Interval,
        entry: LogEntry,
    ) -> bool:
        assert read.current is not None
        try:
            rows = await self.writes.run(
                _MOVE,
                space.id,
                read.current.ultimo_id,
                read.version,
                start,
                end,
                space.preparation_minutes,
                space.cleanup_minutes,
                blocked.start,
                blocked.end,
                read.now,
                *_entry_values(entry),
                entry.after_state,
            )
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise _refusal(exc, space, None) from exc
        return bool(rows)

    async def cancel(self, read: ChangeRead, entry: LogEntry) -> bool:
        assert read.current is not None
        rows = await self.writes.run(
            _CANCEL,
            read.current.ultimo_id,
            read.version,
            read.now,
            *_entry_values(entry),
            entry.after_state,
        )
        return bool(rows)

    async def check_in(self, read: ChangeRead, by: str | None, entry: LogEntry) -> bool:
        assert read.current is not None
        rows = await self.writes.run(
            _CHECK_IN,
            read.current.ultimo_id,
            read.version,
            read.now,
            by,
            *_entry_values(entry),
            entry.after_state,
        )
        return bool(rows)

    async def end_early(
        self, read: ChangeRead, end: datetime, blocked: Interval, entry: LogEntry
    ) -> bool:
        assert read.current is not None
        rows = await self.writes.run(
            _END_EARLY,
            read.current.ultimo_id,
            read.version,
            end,
            blocked.end,
            read.now,
            *_entry_values(entry),
            entry.after_state,
        )
        return bool(rows)

    async def hash_secret_key(self) -> bytes:
        """The instance's HMAC key for API-key hashes (``storage.keys.hash_secret_key``)."""
        rows = await self.pool.fetch(_HASH_SECRET)
        if not rows:
            raise RuntimeError(
                "the database has no API-key hashing secret; run `roomline db upgrade` on it"
            )
        return bytes.fromhex(rows[0][0])

    def _now(self, pinned_at: datetime | None, offset_seconds: int | None) -> datetime:
        if self.shared_clock is None:
            return datetime.now(UTC)
        stored = None if offset_seconds is None else (pinned_at, offset_seconds)
        return self.shared_clock.now_from(stored)  # type: ignore[no-any-return]


class PgTransaction:
    """``Transaction`` on one asyncpg connection inside its transaction
    (``PgHotPaths.transaction``): statements run one after another, each answered within
    ``wait_seconds`` (a lock held that long, or a database that does not answer, is 503)."""

    dialect = "postgresql"

    def __init__(
        self, conn: asyncpg.Connection, shared_clock: Any | None, wait_seconds: float
    ) -> None:
        self.conn = conn
        self.shared_clock = shared_clock
        self.wait_seconds = wait_seconds

    async def rows(self, statement: DirectStatement, values: Values) -> list[Any]:
        form = statement.on_postgresql
        return form.rows(await self._fetch(form.sql, form.arguments(values)))

    async def rows_each(
        self, statement: DirectStatement, each: Sequence[Values]
    ) -> list[list[Any]]:
        return [await self.rows(statement, values) for values in each]

    async def write(self, statement: DirectStatement, values: Values) -> Any:
        form = statement.on_postgresql
        found = await self._fetch(form.sql, form.arguments(values))
        return found[0][0] if statement.returns else None

    def savepoint(self) -> AbstractAsyncContextManager[Any]:
        return self.conn.transaction()  # nested in the transaction: a savepoint

    async def now(self) -> datetime:
        if self.shared_clock is None:
            return datetime.now(UTC)
        return self.shared_clock.now_from(await clock_store.read_on(self))  # type: ignore[no-any-return]

    async def _fetch(self, sql: str, arguments: list[Any]) -> list[asyncpg.Record]:
        try:
            return await self.conn.fetch(sql, *arguments, timeout=self.wait_seconds)  # type: ignore[no-any-return]
        except TimeoutError as exc:
            raise _no_answer_within(self.wait_seconds) from exc


def _entry_values(entry: LogEntry) -> tuple[Any, ...]:
    return (
        entry.at,
        entry.action,
        entry.workflow,
        entry.key_name,
        entry.client_address,
        entry.request_id,
        entry.before_state,
        entry.space_id,
    )


def _key(row: asyncpg.Record, at: int) -> FoundKey:
    if row[at] is None:
        return None
    workflows = row[at + 2]
    key = StoredKey(
        id=row[at],
        name=row[at + 1],
        workflows=None if workflows is None else frozenset(orjson.loads(workflows)),
        ip_allow=row[at + 3],
        daily_quota=row[at + 4],
        created_at=row[at + 5],
        revoked_at=row[at + 6],
    )
    return key, row[at + 7]


def _space(row: asyncpg.Record, at: int) -> Space | None:
    if row[at] is None:
        return None
    return Space(
        id=row[at],
        description=row[at + 1],
        time_zone=row[at + 2],
        preparation_minutes=row[at + 3],
        cleanup_minutes=row[at + 4],
        capacity=row[at + 5],
        bookable=row[at + 6],
        building=row[at + 7],
        floor=row[at + 8],
        features=features_of(row[at + 9]),
        check_in_required=row[at + 10],
        check_in_opens_minutes=row[at + 11],
        auto_release_minutes=row[at + 12],
    )


def _reservation(row: asyncpg.Record, at: int) -> Reservation:
    return Reservation(
        ultimo_id=row[at],
        space_id=row[at + 1],
        applicant_id=row[at + 2],
        description=row[at + 3],
        start=row[at + 4],
        end=row[at + 5],
        preparation_minutes=row[at + 6],
        cleanup_minutes=row[at + 7],
        status=ReservationStatus(row[at + 8]),
        external_id=row[at + 9],
        series_id=row[at + 10],
        checked_in_at=row[at + 11],
        checked_in_by=row[at + 12],
        released_at=row[at + 13],
        ended_at=row[at + 14],
    )


def _refusal(
    exc: asyncpg.IntegrityConstraintViolationError, space: Space, applicant_id: str | None
) -> Exception:
    """The database's refusal of a write as ours (``reservations.refusal_of``)."""
    return refusal_of(exc, space, applicant_id) or exc


def asyncpg_dsn(url: str) -> str:
    """The libpq URL asyncpg takes, from roomline's SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PgPool:
    """asyncpg's pool, with roomline's limits: at most ``size`` connections per process,
    a wait of at most ``wait_seconds`` for one (then 503), and a database that does not
    answer reported as ``ServiceUnavailable``."""

    def __init__(self, url: str, size: int, wait_seconds: float) -> None:
        self.dsn = asyncpg_dsn(url)
        self.size = size
        self.wait_seconds = wait_seconds
        self._pool: asyncpg.Pool | None = None
        self._opening: asyncio.Lock | None = None
        self._in_use = 0  # requests holding or waiting for a connection
        self._checked_out = 0
        # What POOL_IN_USE was last told of ``_checked_out``, and the timer telling it.
        self._published = 0
        self._publishing: asyncio.TimerHandle | None = None

    async def fetch(self, query: str, *arguments: Any) -> list[asyncpg.Record]:
        # Not over ``connection()``: the async context manager was 2 % of a Get's
        # instructions.
        pool, conn = await self._acquire()
        try:
            return await conn.fetch(query, *arguments, timeout=self.wait_seconds)  # type: ignore[no-any-return]
        except _UNAVAILABLE as exc:
            raise _unavailable() from exc
        except TimeoutError as exc:
            raise _no_answer_within(self.wait_seconds) from exc
        finally:
            await self._release(pool, conn)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection (``ServiceUnavailable`` when none frees up in time)."""
        pool, conn = await self._acquire()
        try:
            yield conn
        finally:
            await self._release(pool, conn)

    async def _acquire(self) -> tuple[asyncpg.Pool, asyncpg.Connection]:
        pool = self._pool or await self._open()
        # Counted from the wait on and until the connection is back in the pool, so a
        # caller that finds no more than ``size`` counted has one to take at once.
        self._in_use += 1
        try:
            if self._in_use <= self.size:
                conn = await self._acquire_free(pool)
            else:
                conn = await self._wait(pool)
        except BaseException:
            self._in_use -= 1
            raise
        self._checked_out += 1
        return pool, conn

    async def _release(self, pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
        self._checked_out -= 1
        try:
            await pool.release(conn)
        finally:
            self._in_use -= 1

    async def _acquire_free(self, pool: asyncpg.Pool) -> asyncpg.Connection:
        # No timeout: asyncpg runs an acquire with one as a task of its own
        # (``asyncio.wait_for``). A free connection is handed over at once; opening a new
        # one is bounded by the pool's connect timeout (``wait_seconds``).
        try:
            return await pool.acquire()
        except (*_UNAVAILABLE, asyncpg.PostgresError, TimeoutError) as exc:
            raise _unavailable() from exc

    async def _wait(self, pool: asyncpg.Pool) -> asyncpg.Connection:
        started = time.perf_counter()
        try:
            # ``asyncio.timeout`` arms one timer; asyncpg's own timeout would run the
            # acquire as a task of its own.
            async with asyncio.timeout(self.wait_seconds):
                conn = await pool.acquire()
        except TimeoutError as exc:
            metrics.POOL_TIMEOUTS.inc()
            raise ServiceUnavailable(
                "Every database connection of this worker is busy; retry shortly."
            ) from exc
        except (*_UNAVAILABLE, asyncpg.PostgresError) as exc:
            raise _unavailable() from exc
        metrics.POOL_WAITS.observe(time.perf_counter() - started)
        return conn

    async def _open(self) -> asyncpg.Pool:
        # Opened on first use, on the loop that serves: a pool belongs to one event loop.
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self.dsn,
                    min_size=0,
                    max_size=self.size,
                    # Idle connections are closed, so an idle worker holds none.
                    max_inactive_connection_lifetime=60,
                    reset=_keep_session,
                    timeout=self.wait_seconds,  # opening a connection
                )
                self._publish()
            return self._pool

    def _publish(self) -> None:
        """Tell POOL_IN_USE how many connections are checked out, now and every second.

        A gauge update takes a lock; two per request were a fiftieth of a Get. Once a
        second is more than a scrape can see. The gauge is told the change, so the
        SQLAlchemy pool's own updates of it add up with these.
        """
        metrics.POOL_IN_USE.inc(self._checked_out - self._published)
        self._published = self._checked_out
        if self._pool is not None:
            self._publishing = asyncio.get_running_loop().call_later(1.0, self._publish)

    async def close(self) -> None:
        if self._publishing is not None:
            self._publishing.cancel()
            self._publishing = None
        metrics.POOL_IN_USE.dec(self._published)
        self._published = 0
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()


# What a database that does not answer raises: the connection lost or refused, the server
# shutting down or starting, too many clients.
_UNAVAILABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.TooManyConnectionsError,
)


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Reset nothing when a connection goes back to the pool (asyncpg still rolls back a
    transaction left open): the hot statements change no session state, and asyncpg's
    default reset (RESET ALL, UNLISTEN, ...) was a second round trip for every request."""


def _unavailable() -> ServiceUnavailable:
    return ServiceUnavailable("The database does not answer; retry shortly.")


async def _again_if_transient(attempt_once: Callable[[], Awaitable[T]]) -> T:
    """Run ``attempt_once``; again, after a back-off, when PostgreSQL aborted it for its
    timing (a deadlock or serialization victim), up to ``ATTEMPTS`` times in all."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await attempt_once()
        except asyncpg.PostgresError as exc:
            if attempt == ATTEMPTS or exc.sqlstate not in TRANSIENT_SQLSTATES:
                raise
            await asyncio.sleep(backoff(attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def _no_answer_within(seconds: float) -> ServiceUnavailable:
    return ServiceUnavailable(f"The database did not answer within {seconds:g} s; retry shortly.")


# Writes one group commits together at most (the rest wait for the next group).
MAX_GROUP = 64


class WriteGroups:
    """Group commit on PostgreSQL: the writes queued on this event loop share one
    transaction and so one commit (one WAL flush), as SQLite's writers do (``groupcommit``).

    Every write is a single statement that takes the log's lock, so the log's commit
    order holds a commit at a time across all workers and hosts: alone, writes could not
    commit faster than the disk flushes (about 375 a second on this project's machine).
    While a group commits the next one gathers. A write that fails with an error (other
    than a lost connection) undoes its group's transaction; each write of that group then
    runs again alone, so only the one at fault gets its error. Nobody's write is answered
    before the commit that holds it has succeeded.
    """

    def __init__(self, pool: PgPool) -> None:
        self.pool = pool
        self._waiting: list[tuple[str, tuple[Any, ...], asyncio.Future[list[Any]]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def run(self, statement: str, *arguments: Any) -> list[asyncpg.Record]:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[list[Any]] = loop.create_future()
        self._waiting.append((statement, arguments, done))
        if self._runner is None:
            self._runner = loop.create_task(self._commit_groups())
        return await done

    async def _commit_groups(self) -> None:
        try:
            while self._waiting:
                group = self._waiting[:MAX_GROUP]
                del self._waiting[:MAX_GROUP]
                if len(group) == 1:
                    await self._alone(*group[0])
                else:
                    await self._together(group)
        finally:
            self._runner = None

    async def _together(
        self, group: list[tuple[str, tuple[Any, ...], asyncio.Future[list[Any]]]]
    ) -> None:
        try:
            async with self.pool.connection() as conn, conn.transaction():
                results = [
                    await conn.fetch(statement, *arguments, timeout=self.pool.wait_seconds)
                    for statement, arguments, _ in group
                ]
        except asyncpg.PostgresError as exc:
            if isinstance(exc, _UNAVAILABLE):
                _settle_all(group, _unavailable())
                return
            for write in group:  # the group is undone: each alone, its own answer
                await self._alone(*write)
            return
        except BaseException as exc:
            _settle_all(group, exc if isinstance(exc, ServiceUnavailable) else _unavailable())
            if not isinstance(exc, Exception):
                raise
            return
        metrics.WRITE_GROUP_SIZE.observe(len(group))
        for (_, _, done), rows in zip(group, results, strict=True):
            if not done.done():
                done.set_result(rows)

    async def _alone(
        self, statement: str, arguments: tuple[Any, ...], done: asyncio.Future[list[Any]]
    ) -> None:
        try:
            rows = await self.pool.fetch(statement, *arguments)
        except Exception as exc:  # the write's own answer
            if not done.done():
                done.set_exception(exc)
            return
        if not done.done():
            done.set_result(rows)


def _settle_all(
    group: list[tuple[str, tuple[Any, ...], asyncio.Future[list[Any]]]], error: BaseException
) -> None:
    for _, _, done in group:
        if not done.done():
            done.set_exception(error)


class PgHotPaths:
    """Runs the hot use cases on PostgreSQL: on the event loop, over ``PgHotPath``."""

    def __init__(self, url: str, size: int, wait_seconds: float, shared_clock: Any) -> None:
        self.pool = PgPool(url, size, wait_seconds)
        self.path = PgHotPath(self.pool, shared_clock)
        self._hash_secret_key: bytes | None = None

    async def read(self, use_case: Callable[[HotPath], Awaitable[T]]) -> T:
        return await use_case(self.path)

    async def write(self, use_case: Callable[[HotPath], Awaitable[T]]) -> T:
        """Run ``use_case``; again when PostgreSQL aborted a write for its timing."""
        return await _again_if_transient(lambda: use_case(self.path))

    async def transaction(self, use_case: Callable[[Transaction], Awaitable[T]]) -> T:
        """Run ``use_case`` in a transaction on one pooled connection; again when
        PostgreSQL aborted it for its timing."""

        async def once() -> T:
            async with self.pool.connection() as conn:
                try:
                    async with conn.transaction():
                        tx = PgTransaction(conn, self.path.shared_clock, self.pool.wait_seconds)
                        return await use_case(tx)
                except _UNAVAILABLE as exc:
                    raise _unavailable() from exc

        return await _again_if_transient(once)

    async def hash_secret_key(self) -> bytes:
        """The instance's HMAC key for API-key hashes: it never changes, so it is read once."""
        if self._hash_secret_key is None:
            self._hash_secret_key = await self.path.hash_secret_key()
        return self._hash_secret_key

    async def close(self) -> None:
        await self.pool.close()
