"""What a report reads of each reservation, on both databases: its instants as whole
seconds and what became of it (``domain.utilisation``'s bits), worked out by the database.

PostgreSQL's seconds come from ``date_part`` (a double), exact to the microsecond before
2242 and cut to the second first after that (storage/reports.py): the instants below sit
on both sides of that line, a microsecond before a whole second, and must come back
rounded down, as ``floor(extract(epoch ...))`` had them. SQLite's ``unixepoch()`` reads
an instant to the millisecond first (so 23:59:59.999999 is the next second); that is
unchanged, and not what these instants test.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from roomline.domain.reservations import Space
from roomline.domain.utilisation import CANCELLED, CHECKED_IN, LATE, RELEASED
from roomline.services import audit
from roomline.storage import reports as store
from roomline.storage import reservations
from roomline.storage.database import Database
from roomline.storage.direct import OnConnection, drive
from roomline.storage.migrate import upgrade
from tests.conftest import World, door_event
from tests.support import fresh_database_url

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CREATED_AT = [
    datetime(1900, 1, 1, 0, 0, 0, 500000, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2030, 3, 31, 1, 59, 59, 999999, tzinfo=UTC),
    datetime(2241, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2242, 1, 1, 0, 0, 0, tzinfo=UTC),
    datetime(9998, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]
MONDAY_NINE = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
WEEK = (MONDAY_NINE - timedelta(days=1), MONDAY_NINE + timedelta(days=6))


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    upgrade(database)
    yield database
    database.dispose()


def _world(database: Database, **options: Any) -> tuple[World, Space]:
    world = World(database, itertools.count(1))
    world.person()  # P-1, the applicant of every reservation here
    return world, world.space(tz="UTC", **options)


def _book(world: World, space: Space, slot: int, booked_at: datetime) -> int:
    start = MONDAY_NINE + timedelta(hours=2 * slot)  # apart by more than the margins
    return world.reservation(space, start, start + timedelta(hours=1), "P-1", "", booked_at)


def _cancel(database: Database, ultimo_id: int, at: datetime, *, logged: bool = True) -> None:
    with database.write() as conn:
        before = reservations.get(conn, ultimo_id)
        reservations.cancel(conn, ultimo_id, at)
        after = reservations.get(conn, ultimo_id)
        if logged:
            drive(
                audit.record_on(
                    OnConnection(conn),
                    at=at,
                    action="cancel",
                    before=before,
                    after=after,
                    actor=None,
                )
            )


def _rows(database: Database) -> list[tuple[object, ...]]:
    start, end = WEEK
    with database.read() as conn:
        return sorted(store.reservation_rows(conn, start, end), key=lambda row: row[1])


def test_postgresql_instants_are_whole_seconds_rounded_down(tmp_path: Path) -> None:
    # PostgreSQL only: SQLite's unixepoch() reads to the millisecond first (see above).
    with fresh_database_url("postgresql", tmp_path) as url:
        database = Database(url)
        try:
            upgrade(database)
            world, space = _world(database)
            for slot, created in enumerate(CREATED_AT):
                _book(world, space, slot, created)
            rows = _rows(database)
        finally:
            database.dispose()
    # Whole seconds by integer arithmetic: datetime.timestamp()'s double rounds 9998's up.
    created = [row[6] for row in rows]
    assert created == [(at - EPOCH) // timedelta(seconds=1) for at in CREATED_AT]
    assert created[1] == -1
    assert created[5] == 253370764799


def test_each_row_says_what_became_of_its_reservation(database: Database) -> None:
    world, space = _world(database, prep=15, cleanup=5)
    booked_at = MONDAY_NINE - timedelta(days=3)
    _, checked_in, released, late, day_before, unlogged, running = (
        _book(world, space, slot, booked_at) for slot in range(7)
    )
    _book(world, space, 12 * 7, booked_at)  # outside the period asked for
    with database.write() as conn:
        door_event(conn, checked_in, "check_in", MONDAY_NINE + timedelta(hours=2, minutes=2))
        door_event(conn, released, "release", MONDAY_NINE + timedelta(hours=4, minutes=15))
        door_event(conn, running, "check_in", MONDAY_NINE + timedelta(hours=12))
    # Less than 24 hours before its start is late; exactly 24 hours is not.
    _cancel(database, late, MONDAY_NINE + timedelta(hours=6) - timedelta(hours=23, minutes=59))
    _cancel(database, day_before, MONDAY_NINE + timedelta(hours=8) - timedelta(hours=24))
    _cancel(database, unlogged, MONDAY_NINE, logged=False)  # its entry pruned, say
    _cancel(database, running, MONDAY_NINE + timedelta(hours=12, minutes=30))

    start = int(MONDAY_NINE.timestamp())
    assert _rows(database) == [
        (space.id, start + slot * 7200, start + slot * 7200 + 3600, 15, 5, state, start - 259200)
        for slot, state in enumerate(
            [
                0,
                CHECKED_IN,
                CANCELLED | RELEASED,
                CANCELLED | LATE,
                CANCELLED,
                CANCELLED,
                CANCELLED | LATE | CHECKED_IN,
            ]
        )
    ]
