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

Writers come in two kinds. A thread calls ``write()`` and waits in it, as above. A
coroutine hands its whole block to ``run_on_loop()``: blocks queued on the event loop run
there one after another, in one group, and only what may wait (taking the turn and
``BEGIN IMMEDIATE``, which can wait for another process; the COMMIT and its fsync) goes
to a thread of its own. An Ultimo write is a few statements that never wait once the
write lock is held, so running them on the loop costs far less than a threadpool thread
per request handing the GIL back and forth. Inside such a block ``write()`` joins the
block's group. Both kinds take the same turn, so they never interleave.

Every writer waits at most ``wait_seconds`` in all, from the moment it asks to write:
for the turn, for its group to open, and in ``BEGIN IMMEDIATE`` for a lock another
process holds (tried every millisecond until what is left of the earliest wait of the
group being opened; ``database._begin_sqlite_transaction``). Past that it fails with
``ServiceUnavailable``; a writer never starts waiting afresh because the writers ahead of
it gave up.
"""

from __future__ import annotations

import asyncio
import contextvars
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from roomline import metrics
from roomline.domain.errors import ServiceUnavailable

MAX_GROUP = 32
DEFAULT_WAIT_SECONDS = 30.0
# A connection's busy timeout (for reads, which rarely wait) is this much less than a
# whole wait, so the statement that found the database busy still fails within it.
BUSY_TIMEOUT_SLACK_MS = 100
T = TypeVar("T")


def busy_timeout_ms(wait_seconds: float) -> int:
    """The busy timeout of a connection, for a wait of ``wait_seconds`` in all."""
    return max(1, int(wait_seconds * 1000) - BUSY_TIMEOUT_SLACK_MS)


class _Group:
    def __init__(self, conn: Connection, transaction: Any) -> None:
        self.conn = conn
        self.transaction = transaction
        self.members = 0
        self.committed = threading.Event()
        self.error: BaseException | None = None


# The group of the ``run_on_loop`` block running now, which ``write()`` joins.
_loop_group: contextvars.ContextVar[_Group | None] = contextvars.ContextVar(
    "roomline_loop_group", default=None
)


class _LoopWrites:
    """``run_on_loop`` on one event loop: the blocks waiting, the task running them, and
    the thread that takes the turn, begins and commits for them. The group's connection
    is used by that thread and by the loop's, never by both at once."""

    def __init__(self) -> None:
        # Each block with the future its writer awaits and the moment it stops waiting.
        self.blocks: list[tuple[Callable[[], Any], asyncio.Future[Any], float]] = []
        self.runner: asyncio.Task[None] | None = None
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="roomline-commit")


class GroupCommitter:
    """Hands out write transactions on one SQLite engine, committing queued ones together."""

    def __init__(
        self,
        engine: Engine,
        max_group: int = MAX_GROUP,
        wait_seconds: float = DEFAULT_WAIT_SECONDS,
    ) -> None:
        self.engine = engine
        self.max_group = max_group
        self.wait_seconds = wait_seconds
        self._turn = threading.Lock()  # held by the writer whose block runs, and by the commit
        self._queue = threading.Lock()
        self._queued = 0
        self._owner: int | None = None
        self._group: _Group | None = None
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopWrites] = (
            weakref.WeakKeyDictionary()
        )

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """Yield a connection in a write transaction; return once it has committed.

        Inside a ``run_on_loop`` block, the block's group: it commits after the block.
        """
        loop_group = _loop_group.get()
        if loop_group is not None:
            with self._member_of(loop_group) as conn:
                yield conn
            return
        if self._owner == threading.get_ident():
            raise RuntimeError("a write transaction is already open in this thread")
        if self._runs_loop_groups_here():
            # Waiting for the turn would stall the loop, and with it a group of the loop's
            # own that may hold the turn: a deadlock.
            raise RuntimeError("write() would block an event loop that writes; use run_on_loop")
        deadline = time.monotonic() + self.wait_seconds
        with self._queue:
            self._queued += 1
        has_turn = self._turn.acquire(timeout=self.wait_seconds)
        with self._queue:
            self._queued -= 1
        if not has_turn:
            raise _busy(self.wait_seconds)
        self._owner = threading.get_ident()
        try:
            group = self._join(deadline)
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

    def _runs_loop_groups_here(self) -> bool:
        try:
            return asyncio.get_running_loop() in self._loops
        except RuntimeError:  # no event loop in this thread
            return False

    def close(self) -> None:
        """Let the commit threads of ``run_on_loop`` end once their work is done."""
        for writes in list(self._loops.values()):
            writes.thread.shutdown(wait=False)
        self._loops.clear()

    async def run_on_loop(self, block: Callable[[], T]) -> T:
        """Run ``block`` on the event loop in a group; return its result once committed.

        ``block`` writes through ``write()``. It raises what the block raised, or, when
        the group's commit failed, that failure (as ``write()`` does).
        """
        loop = asyncio.get_running_loop()
        writes = self._loops.get(loop)
        if writes is None:
            writes = self._loops[loop] = _LoopWrites()
        done: asyncio.Future[T] = loop.create_future()
        writes.blocks.append((block, done, time.monotonic() + self.wait_seconds))
        if writes.runner is None:
            writes.runner = loop.create_task(self._run_loop_blocks(writes))
        return await done

    async def _run_loop_blocks(self, writes: _LoopWrites) -> None:
        loop = asyncio.get_running_loop()
        try:
            while writes.blocks:
                batch = self._waiting_batch(writes)
                if not batch:
                    continue
                deadline = min(deadline for _, _, deadline in batch)
                opening = loop.run_in_executor(writes.thread, self._open_loop_group, deadline)
                try:
                    group = await opening
                except asyncio.CancelledError:
                    # The loop is going away. The commit thread may still open the group;
                    # give it up there, or the turn stays taken for every other writer.
                    writes.thread.submit(self._give_up_loop_group)
                    for _, done, _ in batch:
                        done.cancel()
                    raise
                except BaseException as exc:
                    # Those still within their wait try again, first in line.
                    now = time.monotonic()
                    waiting = [entry for entry in batch if entry[2] > now]
                    if len(waiting) == len(batch):  # not a timeout: every block fails
                        waiting = []
                    for entry in batch:
                        if entry not in waiting:
                            _settle(entry[1], error=_copy(exc))
                    writes.blocks[:0] = waiting
                    continue
                outcomes = self._run_blocks(group, [block for block, _, _ in batch])
                await loop.run_in_executor(writes.thread, self._commit, group)
                for (_, done, _), (result, failure) in zip(batch, outcomes, strict=True):
                    if group.error is not None:
                        _settle(done, error=_copy(group.error), cause=failure)
                    elif failure is not None:
                        _settle(done, error=failure)
                    else:
                        _settle(done, result=result)
        finally:
            writes.runner = None

    def _waiting_batch(
        self, writes: _LoopWrites
    ) -> list[tuple[Callable[[], Any], asyncio.Future[Any], float]]:
        """Take the next group's blocks off the queue; fail those whose wait is over."""
        batch = writes.blocks[: self.max_group]
        del writes.blocks[: self.max_group]
        now = time.monotonic()
        for _, done, deadline in batch:
            if deadline <= now:
                _settle(done, error=_busy(self.wait_seconds))
        return [entry for entry in batch if entry[2] > now]

    def _open_loop_group(self, deadline: float) -> _Group:
        """Take the turn and open a group (in the commit thread: both may wait)."""
        if not self._turn.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise _busy(self.wait_seconds)
        self._owner = threading.get_ident()
        try:
            return self._join(deadline)
        except BaseException as exc:
            self._abandon(self._group, exc)
            raise

    def _give_up_loop_group(self) -> None:
        """After a cancelled open, in the commit thread: roll back the group it opened."""
        if self._owner == threading.get_ident():  # the open succeeded and holds the turn
            self._abandon(self._group, RuntimeError("the event loop stopped before the writes"))

    def _run_blocks(
        self, group: _Group, blocks: list[Callable[[], Any]]
    ) -> list[tuple[Any, BaseException | None]]:
        outcomes: list[tuple[Any, BaseException | None]] = []
        token = _loop_group.set(group)
        try:
            for block in blocks:
                if group.error is not None:  # a savepoint broke: the group is lost
                    outcomes.append((None, None))
                    continue
                try:
                    outcomes.append((block(), None))
                except BaseException as exc:  # that block's failure; the group goes on
                    outcomes.append((None, exc))
        finally:
            _loop_group.reset(token)
        return outcomes

    @contextmanager
    def _member_of(self, group: _Group) -> Iterator[Connection]:
        """One write of a loop block: its own savepoint in the block's group."""
        group.members += 1
        savepoint = _Savepoint(group.conn)
        try:
            yield group.conn
        except BaseException:
            try:
                savepoint.rollback()
            except BaseException as broken:
                group.error = broken
                raise
            raise
        try:
            savepoint.release()
        except BaseException as broken:
            group.error = broken
            raise

    def _join(self, deadline: float) -> _Group:
        """Join the open group, or open one, waiting for the write lock until ``deadline``."""
        if self._group is None:
            if deadline - time.monotonic() < 0.001:  # less than a millisecond left
                raise _busy(self.wait_seconds)
            # BEGIN IMMEDIATE waits for another process's lock no longer than this wait
            # has left (database._begin_sqlite_transaction).
            conn = self.engine.connect().execution_options(
                roomline_write=True, roomline_lock_deadline=deadline
            )
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
            if group.error is not None:
                raise group.error
            group.transaction.commit()
            metrics.WRITE_GROUP_SIZE.observe(group.members)
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


def _settle(
    done: asyncio.Future[Any],
    *,
    result: Any = None,
    error: BaseException | None = None,
    cause: BaseException | None = None,
) -> None:
    if done.cancelled():  # its request went away; the block ran (or not) all the same
        return
    if error is None:
        done.set_result(result)
    else:
        error.__cause__ = cause
        done.set_exception(error)


def _busy(wait_seconds: float) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"The database is busy: this write waited {wait_seconds:g} s for its turn; retry shortly."
    )


def _copy(error: BaseException) -> BaseException:
    """A fresh exception per writer: one instance raised in many threads tangles tracebacks."""
    if isinstance(error, DBAPIError) and error.orig is not None:
        return type(error)(error.statement, error.params, error.orig)
    if isinstance(error, sqlite3.Error):  # from a direct statement
        return type(error)(*error.args)
    if isinstance(error, ServiceUnavailable):  # the wait for the write lock ran out
        return ServiceUnavailable(error.message)
    return RuntimeError(f"the shared write transaction failed: {error!r}")
