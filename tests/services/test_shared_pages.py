"""The streams of one process share their reads of the log (``SharedPages``): streams that
ask for the page after the same cursor at the same moment, as a change wakes them all,
get it from one read, each with its own space's changes. On both databases, through the
real hot paths (asyncpg on PostgreSQL), whose reads are counted."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from roomline.services.changes import ChangeLog, ChangePage, Retention, SharedPages
from roomline.services.clock import SharedClock, pin
from roomline.services.reservations import (
    NewReservation,
    Policy,
    ReservationService,
    hot_paths_for,
)
from roomline.storage.hotpath import HotPath, HotPaths
from roomline.storage.migrate import upgrade
from tests.conftest import World

START = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)
T = TypeVar("T")


class CountedReads:
    """Real hot paths; their reads counted."""

    def __init__(self, hot: HotPaths) -> None:
        self.hot = hot
        self.reads = 0

    async def read(self, use_case: Callable[[HotPath], Awaitable[T]]) -> T:
        self.reads += 1
        return await self.hot.read(use_case)


def _booked(world: World) -> tuple[ChangeLog, int, list[str], tuple[str, str]]:
    """Three reservations (in spaces A, B, A) after the returned cursor."""
    upgrade(world.database)
    a, b = world.space(), world.space()
    person = world.person()
    clock = SharedClock()
    with world.database.write() as conn:
        pin(conn, START - timedelta(days=1))
    log = ChangeLog(world.database, clock, "UTC", Retention(30))
    before = log.latest()
    service = ReservationService(world.database, clock, Policy())
    booked = []
    for hour, space in [(9, a), (10, b), (11, a)]:
        at = START.replace(hour=hour)
        times = (at.isoformat(), (at + timedelta(hours=1)).isoformat())
        booked.append(service.create(NewReservation(space.id, person.id, *times), None))
    return log, before, booked, (a.id, b.id)


def _ids(page: ChangePage) -> list[str]:
    return [change.reservation.ultimo_id for change in page.changes]


def _sharing(log: ChangeLog, streams: Callable[[SharedPages, CountedReads], Awaitable[T]]) -> T:
    """Run ``streams`` on an event loop of its own, over ``SharedPages`` on the real hot
    paths with their reads counted (closing the pools it opened)."""
    counted = CountedReads(hot_paths_for(log.database, log.clock))

    async def run() -> T:
        try:
            return await streams(SharedPages(log, counted), counted)  # type: ignore[arg-type]
        finally:
            await counted.hot.close()

    return asyncio.run(run())


def test_streams_asking_at_once_share_one_read_each_with_its_space(
    database_url: str, make_world: Callable[[str], World]
) -> None:
    log, before, booked, (a, b) = _booked(make_world(database_url))
    spaces = [a, b, None] * 7

    async def streams(
        shared: SharedPages, counted: CountedReads
    ) -> tuple[list[ChangePage], int, ChangePage, int]:
        pages = await asyncio.gather(*(shared.after(before, space) for space in spaces))
        at_once = counted.reads
        later = await shared.after(before, a)  # after the read: a read of its own
        return pages, at_once, later, counted.reads

    pages, at_once, later, reads = _sharing(log, streams)
    assert at_once == 1
    by_space = {space: _ids(page) for space, page in zip(spaces, pages, strict=True)}
    assert by_space == {a: [booked[0], booked[2]], b: [booked[1]], None: booked}
    latest = log.latest()
    assert {page.next for page in pages} == {latest}  # as for the whole log
    assert (_ids(later), later.next, reads) == ([booked[0], booked[2]], latest, 2)


def test_a_stream_going_away_does_not_cancel_the_read_for_the_others(
    database_url: str, make_world: Callable[[str], World]
) -> None:
    log, before, booked, (a, _b) = _booked(make_world(database_url))

    async def streams(shared: SharedPages, counted: CountedReads) -> Any:
        leaving = asyncio.create_task(shared.after(before, a))
        staying = asyncio.create_task(shared.after(before, None))
        await asyncio.sleep(0)  # both have asked
        leaving.cancel()
        page = await staying
        return leaving.cancelled(), page, counted.reads

    left, page, reads = _sharing(log, streams)
    assert left
    assert (_ids(page), reads) == (booked, 1)


def test_a_page_cut_short_by_its_limit_ends_at_its_last_change(
    database_url: str, make_world: Callable[[str], World]
) -> None:
    log, before, booked, (a, _b) = _booked(make_world(database_url))

    async def polls(shared: SharedPages, counted: CountedReads) -> Any:
        pages = await asyncio.gather(shared.after(before, None, 2), shared.after(before, a, 1))
        return pages, counted.reads

    (everything, mine), reads = _sharing(log, polls)
    assert (_ids(everything), everything.next) == (booked[:2], everything.changes[1].cursor)
    assert (_ids(mine), mine.next) == ([booked[0]], mine.changes[0].cursor)
    assert reads == 1
