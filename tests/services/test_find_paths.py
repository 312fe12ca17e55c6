"""Finding a room runs two ways: on the hot paths (``/api/booking``, on the event loop:
asyncpg on PostgreSQL) and in the calling thread (CLI, web view). Both give the same
answers, on both databases, and those answers are the right ones."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, select

from roomline.domain.availability import SpaceFilter
from roomline.domain.errors import UnknownSpace
from roomline.services import availability
from roomline.services.clock import SharedClock, pin
from roomline.services.reservations import Policy, ReservationService, hot_paths_for
from roomline.storage.direct import DirectStatement
from roomline.storage.hotpath import HotPath
from roomline.storage.migrate import upgrade
from roomline.storage.tables import UTCDateTime, reservations
from tests.conftest import World
from tests.services.helpers import read_on_hot_path
from tests.support import fresh_database_url

UseCase = Callable[[HotPath], Coroutine[Any, Any, Any]]
NOW = datetime(2031, 3, 4, 8, 0, tzinfo=UTC)  # 09:00 in Amsterdam


def utc(hour: int, minute: int = 0) -> datetime:
    return datetime(2031, 3, 4, hour, minute, tzinfo=UTC)


def test_both_ways_find_the_same_rooms(
    database_url: str, make_world: Callable[[str], World]
) -> None:
    world = make_world(database_url)
    upgrade(world.database)
    building = f"B-{world.person().id}"  # a building of this test's own
    small = world.space(capacity=4, building=building, features=("projector",))
    buffered = world.space(capacity=8, building=building, prep=15, cleanup=10)
    auckland = world.space(capacity=20, building=building, tz="Pacific/Auckland")
    person = world.person("Tane, M.")
    world.reservation(small, utc(9), utc(10), applicant=person.id, description="Planning")
    world.reservation(buffered, utc(11), utc(12), applicant=person.id)
    with world.database.write() as conn:
        pin(conn, NOW)  # the demo's clock, which suggestions never start before
    policy = Policy(default_zone="Europe/Amsterdam")
    clock = SharedClock()
    service = ReservationService(world.database, clock, policy)
    hot = hot_paths_for(world.database, clock)

    def both(use_case: UseCase) -> Any:
        """The answer on the hot path; the thread's must be the same."""
        answer = read_on_hot_path(hot, use_case)
        assert service.read_here(use_case) == answer
        return answer

    wanted = SpaceFilter(building=building.lower())
    # Wall-clock 10:30-11:00 is 09:30-10:00 UTC in Amsterdam: small is booked then, and
    # buffered, blocked 09:15-10:10 for it, is free until 10:45; Auckland's is a night.
    free = both(
        lambda path: availability.free_spaces(
            path, policy, wanted, "2031-03-04T10:30:00", "2031-03-04T11:00:00"
        )
    )
    assert [(space.id, zone.key) for space, zone in free] == [
        (buffered.id, "Europe/Amsterdam"),
        (auckland.id, "Pacific/Auckland"),
    ]
    schedules = both(
        lambda path: availability.schedules(
            path, policy, "2031-03-04T09:00:00", "2031-03-04T13:00:00", 60, [small.id, buffered.id]
        )
    )
    assert [(one.space.id, one.availability_view) for one in schedules] == [
        (small.id, "0200"),  # hours from 09:00 Amsterdam (08:00 UTC); booked 09-10 UTC
        (buffered.id, "0022"),  # blocked 10:45-12:10 UTC
    ]
    [planning] = schedules[0].items
    assert (planning.start, planning.end) == (utc(9), utc(10))
    assert (planning.description, planning.applicant_name) == ("Planning", "Tane, M.")
    slots = both(
        lambda path: availability.suggestions(
            path,
            policy,
            SpaceFilter(building=building.lower(), capacity=5),
            60,
            "2031-03-04T08:00:00",
            "2031-03-04T13:00:00",
            30,
            3,
        )
    )
    # Not before now (09:00 Amsterdam); buffered is free until its preparation at 11:45.
    assert [(slot.space.id, slot.start) for slot in slots] == [
        (buffered.id, utc(8)),
        (buffered.id, utc(8, 30)),
        (buffered.id, utc(9)),
    ]
    with pytest.raises(UnknownSpace, match="There is no space 'nowhere'"):
        both(lambda path: availability.schedules(path, policy, "x", "y", 60, ["nowhere"]))


def test_a_statement_answers_alike_through_asyncpg_and_sqlalchemy(
    tmp_path: Path, make_world: Callable[[str], World]
) -> None:
    """The asyncpg form binds parameters by the columns' types (an aware time in another
    zone, a parameter used twice, a literal LIMIT) and returns rows as SQLAlchemy would."""
    with fresh_database_url("postgresql", tmp_path) as database_url:
        world = make_world(database_url)
        upgrade(world.database)
        space, person = world.space(), world.person()
        first = world.reservation(space, utc(9), utc(10), applicant=person.id)
        world.reservation(space, utc(11), utc(12), applicant=person.id)
        _compare_asyncpg_and_sqlalchemy(world, space.id, first)


def _compare_asyncpg_and_sqlalchemy(world: World, space_id: str, first: int) -> None:
    after = bindparam("after", type_=UTCDateTime())
    statement = DirectStatement(
        select(reservations.c.ultimo_id, reservations.c.start_time)
        .where(
            reservations.c.space_id == bindparam("space_id"),
            reservations.c.start_time >= after,
            reservations.c.end_time > after,
        )
        .order_by(reservations.c.start_time)
        .limit(1)
    )
    values = {"space_id": space_id, "after": datetime.fromisoformat("2031-03-04T09:00+01:00")}
    hot = hot_paths_for(world.database, SharedClock())

    [row] = read_on_hot_path(hot, lambda path: path.rows(statement, values))
    with world.database.read() as conn:
        assert [row] == statement.all(conn, values)
    assert (row.ultimo_id, row.start_time) == (first, utc(9))
    assert row.start_time.tzinfo == UTC
    expanding = DirectStatement(select(reservations).where(reservations.c.space_id.in_(["a"])))
    with pytest.raises(ValueError, match="expanding parameters"):
        str(expanding.on_postgresql)
