"""The database itself refuses overlapping blocked intervals (PostgreSQL's exclusion
constraint, SQLite's triggers), whatever code path writes the row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError

from roomline.domain.errors import SpaceNotAvailable
from roomline.domain.reservations import Person, Space, blocked_interval
from roomline.storage import reservations as store
from roomline.storage.database import Database
from roomline.storage.tables import reservations
from tests.storage.helpers import database_with

ROOM = Space("R1", "Room one", "UTC", 15, 15, 4, True)
T0 = datetime(2031, 1, 1, 10, tzinfo=UTC)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    yield from database_with(database_url, ROOM, Person("P1", "Person"))


def insert(db: Database, start: datetime, end: datetime) -> int:
    """Insert without roomline's own conflict check, as any other writer could."""
    with db.write() as conn:
        return store.insert_reservation(
            conn,
            space=ROOM,
            applicant_id="P1",
            description="",
            start=start,
            end=end,
            blocked=blocked_interval(start, end, 15, 15),
            api_key_id=None,
            external_id="",
            request_fingerprint=None,
            now=T0,
        )


def test_overlapping_insert_is_refused_by_the_database(database: Database) -> None:
    insert(database, T0, T0 + timedelta(hours=1))
    with pytest.raises(SpaceNotAvailable) as refused:
        insert(
            database, T0 + timedelta(hours=1, minutes=20), T0 + timedelta(hours=2)
        )  # prep meets cleanup
    assert refused.value.message.endswith("Cause: Room one is not available.")
    insert(
        database, T0 + timedelta(hours=1, minutes=30), T0 + timedelta(hours=2)
    )  # touching blocks
    with database.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM reservations")).scalar_one() == 2


def test_overlapping_update_is_refused_and_cancelled_rows_do_not_count(database: Database) -> None:
    first = insert(database, T0, T0 + timedelta(hours=1))
    second = insert(database, T0 + timedelta(hours=3), T0 + timedelta(hours=4))
    with pytest.raises(IntegrityError), database.write() as conn:
        conn.execute(
            update(reservations)
            .where(reservations.c.ultimo_id == second)
            .values(blocked_start=T0 + timedelta(minutes=30))
        )
    with database.write() as conn:
        store.cancel(conn, first, T0)
    insert(database, T0, T0 + timedelta(hours=1))  # the cancelled one no longer blocks
    with pytest.raises(IntegrityError), database.write() as conn:  # reviving it would overlap
        conn.execute(
            update(reservations).where(reservations.c.ultimo_id == first).values(status="Processed")
        )


def test_raw_sql_writers_are_refused_too(database: Database) -> None:
    insert(database, T0, T0 + timedelta(hours=1))
    with pytest.raises(IntegrityError), database.write() as conn:
        conn.execute(
            reservations.insert().values(
                space_id="R1",
                applicant_id="P1",
                description="",
                start_time=T0,
                end_time=T0 + timedelta(minutes=30),
                preparation_minutes=0,
                cleanup_minutes=0,
                blocked_start=T0,
                blocked_end=T0 + timedelta(minutes=30),
                status="Processed",
                external_id="",
                created_at=T0,
                updated_at=T0,
            )
        )
