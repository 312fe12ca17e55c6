"""The change feed's pages, read on the hot paths (``/api/booking/changes`` and its stream,
on the event loop: asyncpg on PostgreSQL) and in the calling thread (the CLI): the same
pages and the same refusals, on both databases."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from roomline.domain.errors import CursorExpired, UnknownSpace
from roomline.services.changes import ChangeLog, Retention
from roomline.services.clock import SharedClock, pin
from roomline.services.reservations import (
    NewReservation,
    Policy,
    ReservationService,
    hot_paths_for,
)
from roomline.storage import audit as log_store
from roomline.storage.direct import OnConnection, drive
from roomline.storage.hotpath import HotPath
from roomline.storage.migrate import upgrade
from tests.conftest import World
from tests.services.helpers import read_on_hot_path

START = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)


def test_both_ways_read_the_same_pages(
    database_url: str, make_world: Callable[[str], World]
) -> None:
    world = make_world(database_url)
    upgrade(world.database)
    auckland, amsterdam = world.space(tz="Pacific/Auckland"), world.space()
    tane, berg = world.person("Tane, M."), world.person("Berg, A.")
    clock = SharedClock()
    with world.database.write() as conn:
        pin(conn, START - timedelta(days=1))
    service = ReservationService(world.database, clock, Policy())
    booked = []
    for hour, space, person in [(9, auckland, tane), (10, amsterdam, berg), (11, auckland, berg)]:
        at = START.replace(hour=hour)
        times = (at.isoformat(), (at + timedelta(hours=1)).isoformat())
        request = NewReservation(space.id, person.id, *times, description="Stand-up")
        booked.append(service.create(request, None))
    service.cancel(booked[1])
    log = ChangeLog(world.database, clock, "Europe/Oslo", Retention(30))
    hot = hot_paths_for(world.database, clock)

    def both(use_case: Callable[[HotPath], Coroutine[Any, Any, Any]], threaded: Any) -> Any:
        answer = read_on_hot_path(hot, use_case)
        assert threaded() == answer
        return answer

    latest = both(log.latest_on, log.latest)
    everything = both(lambda path: log.page_on(path, None, None, 100), lambda: log.page(None))
    assert [(c.type, c.reservation.ultimo_id) for c in everything.changes] == [
        ("reservation.created", booked[0]),
        ("reservation.created", booked[1]),
        ("reservation.created", booked[2]),
        ("reservation.cancelled", booked[1]),
    ]
    assert everything.next == latest == everything.changes[-1].cursor
    first = everything.changes[0]
    assert (first.applicant_name, first.time_zone) == ("Tane, M.", "Pacific/Auckland")
    assert [change.applicant_name for change in everything.changes] == [
        "Tane, M.",
        "Berg, A.",
        "Berg, A.",
        "Berg, A.",
    ]
    after_first = first.cursor
    of_auckland = both(
        lambda path: log.page_on(path, after_first, auckland.id, 1),
        lambda: log.page(after_first, auckland.id, 1),
    )
    assert [c.reservation.ultimo_id for c in of_auckland.changes] == [booked[2]]
    assert of_auckland.next == of_auckland.changes[0].cursor  # a full page goes on from there
    with pytest.raises(UnknownSpace):
        both(lambda path: log.page_on(path, 0, "nowhere", 10), lambda: None)
    with pytest.raises(UnknownSpace):
        log.page(0, "nowhere", 10)
    # Forty days on, the feed (30 days) no longer reaches the changes after cursor 0.
    with world.database.write() as conn:
        pin(conn, START + timedelta(days=40))
    with pytest.raises(CursorExpired):
        both(lambda path: log.page_on(path, 0, None, 10), lambda: None)
    with pytest.raises(CursorExpired):
        log.page(0)
    caught_up = both(lambda path: log.page_on(path, None, None, 10), lambda: log.page(None))
    assert (caught_up.changes, caught_up.next) == ([], latest)


def test_a_page_names_all_its_people_in_one_read(
    database_url: str, make_world: Callable[[str], World]
) -> None:
    """``names_of`` takes any number of ids in one statement compiled once (a JSON array
    as one value): the same names on the event loop and in a thread; an id nobody has is
    left out, and names with quotes or non-ASCII letters come back as stored."""
    world = make_world(database_url)
    upgrade(world.database)
    people = [world.person(f"Person {number:03}") for number in range(150)]
    people += [world.person('O\'Hara, "Q."'), world.person("Øverland, Å.")]
    wanted = {person.id for person in people} | {"nobody-has-this-id"}
    hot = hot_paths_for(world.database, SharedClock())
    expected = {person.id: person.name for person in people}
    assert read_on_hot_path(hot, lambda path: log_store.names_of(path, wanted)) == expected
    with world.database.read() as conn:
        assert drive(log_store.names_of(OnConnection(conn), wanted)) == expected
        assert drive(log_store.names_of(OnConnection(conn), set())) == {}
