"""SQLite group commit: writers that share a transaction still behave as if alone.

Each writer's block runs in its own savepoint, returns only once the shared commit has
succeeded, and fails if that commit fails.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, event, func, insert, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from roomline.domain.errors import ServiceUnavailable, SpaceNotAvailable
from roomline.domain.reservations import Person, Space, blocked_interval
from roomline.storage import masterdata
from roomline.storage import reservations as store
from roomline.storage.database import Database
from roomline.storage.groupcommit import GroupCommitter
from roomline.storage.migrate import upgrade
from roomline.storage.tables import people
from tests.storage.helpers import database_with, run_together

ROOM = Space("R1", "Room one", "UTC", 0, 0, 4, True)
T0 = datetime(2031, 1, 1, tzinfo=UTC)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    yield from database_with(f"sqlite:///{tmp_path / 'group.db'}", ROOM, Person("P1", "Person"))


def book(db: Database, start: datetime) -> int:
    """Create as the service does: check for a conflict, then insert, in one write."""
    end = start + timedelta(minutes=30)
    blocked = blocked_interval(start, end, 0, 0)
    with db.write() as conn:
        if store.first_conflict(conn, ROOM.id, blocked) is not None:
            raise SpaceNotAvailable(ROOM.display_name)
        return store.insert_reservation(
            conn,
            space=ROOM,
            applicant_id="P1",
            description="",
            start=start,
            end=end,
            blocked=blocked,
            api_key_id=None,
            external_id="",
            request_fingerprint=None,
            now=T0,
        )


def break_the_commit(conn: Connection) -> None:
    """Insert a deferred foreign key violation: the block succeeds, its COMMIT fails."""
    conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    conn.exec_driver_sql(
        "INSERT INTO reservations (space_id, applicant_id, description, "
        "start_time, end_time, preparation_minutes, cleanup_minutes, "
        "blocked_start, blocked_end, status, external_id, created_at, updated_at) "
        "VALUES ('R1', 'NOBODY', '', '2031-01-01 10:00:00.000000', "
        "'2031-01-01 11:00:00.000000', 0, 0, '2031-01-01 10:00:00.000000', "
        "'2031-01-01 11:00:00.000000', 'Processed', '', '2031-01-01 00:00:00.000000', "
        "'2031-01-01 00:00:00.000000')"
    )


def assert_booked_once(database: Database, results: list[object]) -> None:
    """One writer booked the slot, every other was refused, and one row is stored."""
    booked = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, SpaceNotAvailable)]
    assert len(booked) == 1 and len(refused) == len(results) - 1
    with database.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM reservations")).scalar_one() == 1


def test_one_slot_raced_by_many_writers_is_booked_once(database: Database) -> None:
    assert_booked_once(database, run_together(24, lambda _i: book(database, T0)))


def test_each_writer_sees_its_write_committed_when_it_returns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'group.db'}"
    database = Database(url)
    upgrade(database)
    observer = Database(url)  # another engine: sees only what was committed

    def write_then_look(index: int) -> bool:
        with database.write() as conn:
            conn.execute(insert(people).values(id=f"P{index}", name="x"))
            if index % 3 == 0:
                raise ValueError("this writer changes its mind")
        with observer.read() as conn:
            found = conn.execute(select(people.c.id).where(people.c.id == f"P{index}")).first()
        return found is not None

    results = run_together(30, write_then_look)
    for index, result in enumerate(results):
        if index % 3 == 0:
            assert isinstance(result, ValueError)
        else:
            assert result is True
    with observer.read() as conn:
        assert conn.execute(select(func.count()).select_from(people)).scalar_one() == 20
    observer.dispose()
    database.dispose()


def test_a_failed_shared_commit_fails_every_writer_of_the_group(database: Database) -> None:
    committer = GroupCommitter(database.engine)
    outcomes: dict[str, object] = {}

    def first() -> None:
        try:
            with committer.write() as conn:
                conn.execute(insert(people).values(id="FIRST", name="x"))
                # Stay in the block until the second writer queues behind us.
                deadline = time.monotonic() + 10
                while committer._queued == 0 and time.monotonic() < deadline:
                    time.sleep(0.001)
            outcomes["first"] = "committed"
        except Exception as exc:
            outcomes["first"] = exc

    def second() -> None:
        try:
            with committer.write() as conn:
                break_the_commit(conn)
            outcomes["second"] = "committed"
        except Exception as exc:
            outcomes["second"] = exc

    one = threading.Thread(target=first)
    one.start()
    while committer._owner is None:
        time.sleep(0.001)
    two = threading.Thread(target=second)
    two.start()
    one.join()
    two.join()
    assert isinstance(outcomes["first"], IntegrityError)
    assert isinstance(outcomes["second"], IntegrityError)
    with database.read() as conn:
        assert conn.execute(select(people.c.id).where(people.c.id == "FIRST")).first() is None


def test_a_nested_write_in_one_thread_is_refused(database: Database) -> None:
    with pytest.raises(RuntimeError, match="already open"), database.write(), database.write():
        pass
    book(database, T0)  # the writer queue is usable afterwards


# Writes handed to the event loop (``Database.write_on_loop``): the same guarantees.


def gather_on_loop(database: Database, blocks: list[Callable[[], object]]) -> list[object]:
    """Queue every block on one event loop at once; return results or exceptions, in order."""

    async def main() -> list[object]:
        runs = (database.write_on_loop(block) for block in blocks)
        return await asyncio.gather(*runs, return_exceptions=True)

    return asyncio.run(main())


def test_one_slot_raced_by_loop_blocks_and_threads_is_booked_once(database: Database) -> None:
    from_threads: list[object] = []
    threads = threading.Thread(
        target=lambda: from_threads.extend(run_together(12, lambda _i: book(database, T0)))
    )
    threads.start()
    from_loop = gather_on_loop(database, [functools.partial(book, database, T0)] * 12)
    threads.join()
    assert len(from_threads + from_loop) == 24
    assert_booked_once(database, from_threads + from_loop)


def test_loop_blocks_share_commits_and_each_returns_committed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'group.db'}"
    database = Database(url)
    upgrade(database)
    observer = Database(url)  # another engine: sees only what was committed
    commits: list[object] = []
    event.listen(database.engine, "commit", commits.append)

    def write(index: int) -> str:
        with database.write() as conn:
            conn.execute(insert(people).values(id=f"P{index}", name="x"))
            if index % 3 == 0:
                raise ValueError("this writer changes its mind")
        return f"P{index}"

    async def write_then_look(index: int) -> bool:
        await database.write_on_loop(functools.partial(write, index))
        with observer.read() as conn:
            found = conn.execute(select(people.c.id).where(people.c.id == f"P{index}")).first()
        return found is not None

    async def main() -> list[object]:
        return await asyncio.gather(
            *(write_then_look(i) for i in range(30)), return_exceptions=True
        )

    results = asyncio.run(main())
    for index, result in enumerate(results):
        if index % 3 == 0:
            assert isinstance(result, ValueError)
        else:
            assert result is True
    with observer.read() as conn:
        assert conn.execute(select(func.count()).select_from(people)).scalar_one() == 20
    assert 1 <= len(commits) <= 2  # 30 blocks queued at once: groups of up to 32
    observer.dispose()
    database.dispose()


def test_a_failed_shared_commit_fails_every_loop_block_of_the_group(database: Database) -> None:
    def first() -> str:
        with database.write() as conn:
            conn.execute(insert(people).values(id="FIRST", name="x"))
        return "committed"

    def second() -> str:
        with database.write() as conn:
            conn.execute(insert(people).values(id="SECOND", name="x"))
            break_the_commit(conn)
        return "committed"

    results = gather_on_loop(database, [first, second])
    assert [type(result) for result in results] == [IntegrityError, IntegrityError]
    with database.read() as conn:
        assert conn.execute(select(func.count()).select_from(people)).scalar_one() == 1  # P1
    assert gather_on_loop(database, [first]) == ["committed"]  # usable afterwards


def test_a_waiting_write_on_an_event_loop_that_writes_is_refused(database: Database) -> None:
    # It would stall the loop, and with it a group of the loop's own holding the turn.
    async def main() -> None:
        await database.write_on_loop(functools.partial(book, database, T0))
        with pytest.raises(RuntimeError, match="block an event loop"), database.write():
            pass

    asyncio.run(main())
    assert isinstance(book(database, T0 + timedelta(hours=1)), int)  # usable afterwards


def test_a_loop_stopping_while_its_group_waits_for_the_turn_gives_the_turn_back(
    database: Database,
) -> None:
    holding, release = threading.Event(), threading.Event()

    def hold_the_turn() -> None:
        with database.write():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_turn)
    holder.start()
    holding.wait(10)
    ran: list[str] = []

    async def main() -> None:
        task = asyncio.ensure_future(database.write_on_loop(lambda: ran.append("ran")))
        await asyncio.sleep(0.2)  # the loop's group now waits for the turn in its thread
        runner = database._groups._loops[asyncio.get_running_loop()].runner  # type: ignore[union-attr]
        assert runner is not None
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    release.set()
    holder.join()
    # The group the stopped loop opened was given up: the next writer gets the turn.
    booked = run_together(1, lambda _i: book(database, T0))
    assert isinstance(booked[0], int) and ran == []


def test_thread_writers_wait_at_most_their_wait_for_a_lock_another_program_holds(
    tmp_path: Path,
) -> None:
    # Before the fix each writer waited for the turn without a limit and then began a
    # wait of its own in BEGIN IMMEDIATE: the later ones got the lock once it was let go.
    database, results = _booked_behind_another_programs_lock(
        tmp_path,
        wait_seconds=0.5,
        writers=8,
        let_go_after=2.5,  # five waits
    )
    # The first gives up in BEGIN IMMEDIATE (database is locked), the others on the turn.
    assert all(isinstance(r, ServiceUnavailable | OperationalError) for r in results), results
    assert isinstance(book(database, T0), int)  # the lock is free again
    database.dispose()


def test_a_writer_takes_the_lock_another_program_lets_go_and_keeps_its_busy_timeout(
    tmp_path: Path,
) -> None:
    # A writer tries BEGIN IMMEDIATE itself with the busy handler off, then puts the
    # connection's busy timeout back for whoever uses it next.
    database, results = _booked_behind_another_programs_lock(
        tmp_path, wait_seconds=10, writers=4, let_go_after=0.3
    )
    assert all(isinstance(r, int) for r in results), results
    with database.read() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 9900
        assert conn.execute(text("SELECT count(*) FROM reservations")).scalar_one() == 4
    database.dispose()


def _booked_behind_another_programs_lock(
    tmp_path: Path, *, wait_seconds: float, writers: int, let_go_after: float
) -> tuple[Database, list[object]]:
    """A database with ROOM whose write lock another program holds for ``let_go_after``
    seconds while ``writers`` book at once; the database (to dispose) and their results."""
    path = tmp_path / "group.db"
    database = Database(f"sqlite:///{path}", wait_seconds=wait_seconds)
    upgrade(database)
    with database.write() as conn:
        masterdata.add_space(conn, ROOM)
        masterdata.add_person(conn, Person("P1", "Person"))
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    letting_go = threading.Timer(let_go_after, holder.execute, ("ROLLBACK",))
    letting_go.start()
    results = run_together(writers, lambda i: book(database, T0 + timedelta(hours=i)))
    letting_go.join()
    holder.close()
    return database, results


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc/self/fd (Linux)")
def test_a_writers_savepoint_journal_stays_off_the_disk(tmp_path: Path) -> None:
    """A writer's savepoint journals the pages it changes. On disk that journal was a
    temporary file a transaction (opened, written page by page, deleted) while holding the
    write lock: it stays in memory (``PRAGMA temp_store=MEMORY``)."""
    database = Database(f"sqlite:///{tmp_path / 'journal.db'}")
    try:
        with database.write() as conn:
            conn.exec_driver_sql("CREATE TABLE pages (id INTEGER PRIMARY KEY, body BLOB)")
            conn.exec_driver_sql(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) "
                "INSERT INTO pages SELECT i, randomblob(8000) FROM n"
            )
        with database.write() as conn:
            # 800 KB of pages that existed before the transaction, far past the 64 KiB
            # that SQLite keeps in memory before it spills a journal to a file.
            conn.exec_driver_sql("UPDATE pages SET body = randomblob(8000)")
            temporary_files = _open_sqlite_temporary_files()
        assert temporary_files == []
        with database.read() as conn:
            assert conn.exec_driver_sql("PRAGMA temp_store").scalar() == 2  # MEMORY
    finally:
        database.dispose()


def _open_sqlite_temporary_files() -> list[str]:
    """SQLite's temporary files this process holds open."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except FileNotFoundError:  # the descriptor that listed the directory
            continue
        if "etilqs_" in target:  # SQLite names its temporary files so
            found.append(target)
    return found
