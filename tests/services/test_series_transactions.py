"""A series write racing another writer inside its transaction, on PostgreSQL's event loop.

``/api/booking/series`` runs each write in a transaction of its own over asyncpg
(``HotPaths.transaction``). Between a series' check and its inserts another writer can
commit; these tests hold the series' transaction at one statement while that happens and
then let it go on. SQLite needs no such test: its single writer holds the write lock for
the whole transaction, so nothing can come between.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from roomline.domain.errors import ServiceUnavailable, SpaceNotAvailable
from roomline.domain.recurrence import ConflictPolicy
from roomline.domain.reservations import Person, Space
from roomline.services.clock import SystemClock
from roomline.services.keys import store_key
from roomline.services.reservations import (
    NewReservation,
    Policy,
    ReservationService,
    hot_paths_for,
)
from roomline.services.series import NewSeries, SeriesOutcome, SeriesService
from roomline.storage import reservations as reservation_store
from roomline.storage import series as series_store
from roomline.storage.audit import LOG_LOCK
from roomline.storage.database import Database
from roomline.storage.direct import DirectStatement, Values
from roomline.storage.hotpath import Transaction
from roomline.storage.pg_hot import PgHotPaths
from roomline.storage.tables import audit_log, reservations, series
from tests.storage.helpers import database_with
from tests.support import fresh_database_url

ROOM = Space("R1", "Room one", "UTC", 0, 0, 4, True)
PERSON = Person("P1", "Person")
# Three daily occurrences, 10:00-11:00, far enough ahead for the real clock.
SERIES = NewSeries(
    space_id="R1",
    applicant_id="P1",
    start="2035-03-05T10:00:00",
    end="2035-03-05T11:00:00",
    rrule="FREQ=DAILY;COUNT=3",
)
SECOND_DAY = ("2035-03-06T10:00:00", "2035-03-06T11:00:00")


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    with fresh_database_url("postgresql", tmp_path) as url:
        yield from database_with(url, ROOM, PERSON)


@pytest.fixture
def service(database: Database) -> SeriesService:
    return SeriesService(ReservationService(database, SystemClock(), Policy()))


class HeldAt:
    """A transaction that, the first time it is to run ``statement``, awaits ``gate`` first."""

    def __init__(
        self, tx: Transaction, statement: DirectStatement, gate: Callable[[], Awaitable[Any]]
    ) -> None:
        self.tx, self.statement, self.gate = tx, statement, gate
        self.held = False

    @property
    def dialect(self) -> str:
        return self.tx.dialect

    async def rows(self, statement: DirectStatement, values: Values) -> list[Any]:
        return await self.tx.rows(statement, values)

    async def rows_each(self, statement: DirectStatement, each: Any) -> list[list[Any]]:
        return await self.tx.rows_each(statement, each)

    async def write(self, statement: DirectStatement, values: Values) -> Any:
        if statement is self.statement and not self.held:
            self.held = True
            await self.gate()
        return await self.tx.write(statement, values)

    def savepoint(self) -> AbstractAsyncContextManager[Any]:
        return self.tx.savepoint()

    async def now(self) -> datetime:
        return await self.tx.now()


def run_creates(
    service: SeriesService,
    requests: list[NewSeries],
    api_key_id: int | None,
    statement: DirectStatement,
    gate: Callable[[], Awaitable[Any]],
) -> list[SeriesOutcome | BaseException]:
    """Create each series in a transaction of its own on one event loop, together, each
    held once at ``statement`` by ``gate``."""

    async def run() -> list[SeriesOutcome | BaseException]:
        hot = hot_paths_for(service.database, service.clock)

        async def create(wanted: NewSeries) -> SeriesOutcome:
            return await hot.transaction(
                lambda tx: service.create_on(HeldAt(tx, statement, gate), wanted, api_key_id)
            )

        try:
            async with asyncio.timeout(60):
                return await asyncio.gather(*map(create, requests), return_exceptions=True)
        finally:
            await hot.close()

    return asyncio.run(run())


def stored(database: Database) -> tuple[int, list[tuple[str, Any]], list[str]]:
    """Series rows; each reservation's (start, series); each log entry's action."""
    with database.read() as conn:
        series_count = conn.execute(select(func.count()).select_from(series)).scalar_one()
        rows = conn.execute(
            select(reservations.c.start_time, reservations.c.series_id).order_by(
                reservations.c.start_time
            )
        ).all()
        actions = conn.execute(select(audit_log.c.action).order_by(audit_log.c.id)).scalars()
        return series_count, [(row[0].isoformat(), row[1]) for row in rows], list(actions)


def test_two_identical_requests_book_one_series_and_both_get_its_answer(
    database: Database, service: SeriesService
) -> None:
    with database.write() as conn:
        key_id = store_key(conn, name="k", secret="S" * 32, now=datetime.now(UTC))
    wanted = dataclasses.replace(SERIES, external_id="standup-1")
    both_checked = asyncio.Barrier(2)  # neither has found the other's series

    first, second = run_creates(
        service, [wanted, wanted], key_id, series_store._ADD, both_checked.wait
    )

    assert isinstance(first, SeriesOutcome) and isinstance(second, SeriesOutcome), (first, second)
    assert first.series_id == second.series_id
    assert [o.ultimo_id for o in first.occurrences] == [o.ultimo_id for o in second.occurrences]
    series_count, rows, actions = stored(database)
    assert series_count == 1
    assert [series_id for _, series_id in rows] == [first.series_id] * 3
    assert actions == ["create"] * 3


def book_second_day(database: Database) -> int:
    service = ReservationService(database, SystemClock(), Policy())
    return service.create(NewReservation("R1", "P1", *SECOND_DAY, description="walk-in"), None)


@pytest.mark.parametrize("policy", [ConflictPolicy.SKIP, ConflictPolicy.FAIL])
def test_a_slot_taken_meanwhile_is_a_conflict_under_the_request_policy(
    database: Database, service: SeriesService, policy: ConflictPolicy
) -> None:
    wanted = dataclasses.replace(SERIES, on_conflict=policy)

    async def another_writer_books_the_second_day() -> None:
        await asyncio.to_thread(book_second_day, database)

    (outcome,) = run_creates(
        service,
        [wanted],
        None,
        reservation_store._SPACE_TURN,  # before its first insert takes the turn
        another_writer_books_the_second_day,
    )

    series_count, rows, actions = stored(database)
    if policy is ConflictPolicy.SKIP:
        assert isinstance(outcome, SeriesOutcome), outcome
        assert [o.start.isoformat() for o in outcome.occurrences] == [
            "2035-03-05T10:00:00+00:00",
            "2035-03-07T10:00:00+00:00",
        ]
        assert [(s["start"], s["code"]) for s in outcome.skipped] == [
            ("2035-03-06T10:00:00+00:00", "1015")
        ]
        assert series_count == 1
        assert [series_id is None for _, series_id in rows] == [False, True, False]
        assert actions == ["create"] * 3  # the walk-in's, then the two occurrences'
    else:
        assert isinstance(outcome, SpaceNotAvailable), outcome
        assert [d["start"] for d in outcome.details or []] == ["2035-03-06T10:00:00+00:00"]
        assert series_count == 0
        assert [series_id for _, series_id in rows] == [None]  # the walk-in alone
        assert actions == ["create"]


def test_a_series_that_waits_too_long_for_a_lock_answers_503_and_stores_nothing(
    database: Database, service: SeriesService
) -> None:
    async def create() -> SeriesOutcome:
        hot = PgHotPaths(database.url, 2, 1.0, None)  # answers within 1 s, or 503
        try:
            return await hot.transaction(lambda tx: service.create_on(tx, SERIES, None))
        finally:
            await hot.close()

    with database.engine.connect() as other:  # a writer that holds the log's lock
        other.execute(text(f"SELECT pg_advisory_lock({LOG_LOCK})"))
        with pytest.raises(ServiceUnavailable, match="did not answer within 1 s"):
            asyncio.run(create())
        other.execute(text(f"SELECT pg_advisory_unlock({LOG_LOCK})"))
        other.commit()
    assert stored(database) == (0, [], [])

    outcome = asyncio.run(create())  # the lock released, it goes through
    assert len(outcome.occurrences) == 3
