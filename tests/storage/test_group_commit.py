"""SQLite group commit: writers that share a transaction still behave as if alone.

Each writer's block runs in its own savepoint, returns only once the shared commit has
succeeded, and fails if that commit fails.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError

from roomline.domain.errors import SpaceNotAvailable
from roomline.domain.reservations import Person, Space, blocked_interval
from roomline.storage import reservations as store
from roomline.storage.database import Database
from roomline.storage.groupcommit import GroupCommitter
from roomline.storage.migrate import upgrade
from roomline.storage.tables import people
from tests.storage.helpers import database_with

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


def run_together(count: int, work: object) -> list[object]:
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)  # type: ignore[operator]
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_one_slot_raced_by_many_writers_is_booked_once(database: Database) -> None:
    results = run_together(24, lambda _i: book(database, T0))
    booked = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, SpaceNotAvailable)]
    assert len(booked) == 1 and len(refused) == 23
    with database.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM reservations")).scalar_one() == 1


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
                # A deferred foreign key violation: the block succeeds, COMMIT fails.
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
