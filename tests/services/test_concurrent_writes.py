"""Writes that race each other through the reservation service, on both databases.

Every read a write decides on is made under a lock on the row (or the database's write
lock on SQLite), so each race ends as if the writes had run one after the other: the
loser gets the answer it would get in that order, and the audit trail ends in the state
that is stored. Each race runs many rounds in threads that start together; the numbers
of rounds are those that caught each fault on PostgreSQL before it was fixed.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TypeVar

import pytest
from sqlalchemy import select

from roomline.domain.errors import (
    ReservationCancelled,
    ReservationInPast,
    StillReferenced,
    UnknownApplicant,
    UnknownSpace,
)
from roomline.domain.reservations import Person, Space, blocked_interval
from roomline.services import people as people_service
from roomline.services import spaces as space_service
from roomline.services.audit import Actor, snapshot
from roomline.services.clock import SystemClock
from roomline.services.door import DoorService
from roomline.services.reservations import (
    Caller,
    NewReservation,
    Policy,
    ReservationService,
    TimeChange,
    hot_paths_for,
)
from roomline.storage import masterdata
from roomline.storage import reservations as store
from roomline.storage.database import Database
from roomline.storage.hotpath import HotPath
from roomline.storage.tables import audit_log, reservations
from tests.storage.helpers import database_with, run_together

T = TypeVar("T")
ROOM = Space("R1", "Room one", "UTC", 15, 15, 4, True)
PERSON = Person("P1", "Person")
DAY = datetime(2035, 3, 5, tzinfo=UTC)  # the service runs on the real clock


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    yield from database_with(database_url, ROOM, PERSON)


class HotPathService:
    """The same use cases as the Ultimo workflows run them (``hot_paths_for``: asyncpg on
    PostgreSQL, the loop's write group on SQLite), each call on an event loop of its own."""

    def __init__(self, service: ReservationService) -> None:
        self.service = service

    def create(self, request: NewReservation, api_key_id: int | None) -> int:
        return self._write(lambda path: self.service.create_on(path, request, Caller(api_key_id)))

    def update(self, change: TimeChange) -> None:
        self._write(lambda path: self.service.update_on(path, change, Caller()))

    def cancel(self, ultimo_id: int) -> None:
        self._write(lambda path: self.service.cancel_on(path, ultimo_id, Caller()))

    def _write(self, use_case: Callable[[HotPath], Awaitable[T]]) -> T:
        async def run() -> T:
            hot = hot_paths_for(self.service.database, self.service.clock)
            try:
                return await hot.write(use_case)
            finally:
                await hot.close()

        return asyncio.run(run())


@pytest.fixture(params=["threads", "hot path"])
def service(database: Database, request: pytest.FixtureRequest) -> ReservationService:
    threaded = ReservationService(database, SystemClock(), Policy())
    if request.param == "threads":
        return threaded
    return HotPathService(threaded)  # type: ignore[return-value]


def together(*work: Callable[[], object]) -> list[object]:
    """Run each callable in its own thread, released at once; results or exceptions."""
    return run_together(len(work), lambda index: work[index]())


def utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def booking(
    hour: int, space: str = ROOM.id, applicant: str = PERSON.id, **more: str
) -> NewReservation:
    start = DAY + timedelta(hours=hour)
    return NewReservation(space, applicant, utc(start), utc(start + timedelta(minutes=30)), **more)


def trail(database: Database, ultimo_id: int) -> list[tuple[str, dict[str, object]]]:
    """The audit entries of a reservation, oldest first: (action, state after)."""
    with database.read() as conn:
        rows = conn.execute(
            select(audit_log.c.action, audit_log.c.after_state)
            .where(audit_log.c.ultimo_id == ultimo_id)
            .order_by(audit_log.c.id)
        )
        return [(row.action, json.loads(row.after_state)) for row in rows]


def stored(database: Database, ultimo_id: int) -> dict[str, object]:
    with database.read() as conn:
        found = store.get(conn, ultimo_id)
    assert found is not None
    return snapshot(found)


CANCEL_UPDATE_ROUNDS = 60


def test_cancel_and_update_racing_end_as_one_after_the_other(
    database: Database, service: ReservationService
) -> None:
    # Before the fix (PostgreSQL): the update read the row before the cancel committed
    # and then moved the cancelled row, its audit entry last.
    wrong = []
    for round_ in range(CANCEL_UPDATE_ROUNDS):
        ultimo_id = service.create(booking(hour=round_), None)
        moved = DAY + timedelta(hours=round_, minutes=5)
        change = TimeChange(ultimo_id, utc(moved), utc(moved + timedelta(minutes=30)))
        cancelled, updated = together(
            partial(service.cancel, ultimo_id), partial(service.update, change)
        )
        entries = trail(database, ultimo_id)
        # Both succeed only if the update comes first; else it is refused.
        expected = ["create", "update", "cancel"] if updated is None else ["create", "cancel"]
        if (
            cancelled is not None
            or not (updated is None or isinstance(updated, ReservationCancelled))
            or [action for action, _ in entries] != expected
            or entries[-1][1] != stored(database, ultimo_id)
        ):
            wrong.append((round_, cancelled, updated, entries))
    assert wrong == [], f"{len(wrong)} of {CANCEL_UPDATE_ROUNDS} rounds went wrong"


IDENTICAL_CANCELS = 4
CANCELS_ROUNDS = 40


def test_identical_cancels_at_once_record_one_cancel(
    database: Database, service: ReservationService
) -> None:
    # Before the fix (PostgreSQL): two or more of the four recorded a "cancel" entry.
    wrong = []
    for round_ in range(CANCELS_ROUNDS):
        ultimo_id = service.create(booking(hour=round_), None)
        answers = together(*[partial(service.cancel, ultimo_id)] * IDENTICAL_CANCELS)
        actions = [action for action, _ in trail(database, ultimo_id)]
        if answers != [None] * IDENTICAL_CANCELS or actions != ["create", "cancel"]:
            wrong.append((round_, answers, actions))
    assert wrong == [], f"{len(wrong)} of {CANCELS_ROUNDS} rounds went wrong"


IDENTICAL_CREATES = 8
CREATES_ROUNDS = 60


def test_identical_idempotent_creates_at_once_all_answer_the_winner(
    database: Database, service: ReservationService
) -> None:
    # Before the fix (PostgreSQL): a twin saw the winner's row as a conflict (1015)
    # before it saw its ExternalId.
    wrong = []
    for round_ in range(CREATES_ROUNDS):
        request = booking(hour=round_, external_id=f"twin-{round_}")
        answers = together(*[partial(service.create, request, None)] * IDENTICAL_CREATES)
        if len(set(map(repr, answers))) != 1 or not isinstance(answers[0], int):
            wrong.append((round_, answers))
    assert wrong == [], f"{len(wrong)} of {CREATES_ROUNDS} rounds went wrong"
    with database.read() as conn:
        assert len(conn.execute(select(reservations.c.ultimo_id)).all()) == CREATES_ROUNDS


REMOVAL_ROUNDS = 40
_numbers = itertools.count(1)


@pytest.mark.parametrize("removed", ["space", "applicant"])
def test_a_create_racing_the_removal_of_its_space_or_applicant(
    database: Database, service: ReservationService, removed: str
) -> None:
    # Before the fix (PostgreSQL): the insert met the foreign key of the removed row
    # and the create raised IntegrityError (500).
    wrong = []
    for round_ in range(REMOVAL_ROUNDS):
        number = next(_numbers)
        space = Space(f"S-{number}", "Room", "UTC", 0, 0, 4, True)
        person = Person(f"P-{number}", "Person")
        with database.write() as conn:
            masterdata.add_space(conn, space)
            masterdata.add_person(conn, person)
        if removed == "space":
            remove = partial(space_service.remove_space, database, space.id)
            unknown: type[Exception] = UnknownSpace
        else:
            remove = partial(people_service.remove_person, database, person.id)
            unknown = UnknownApplicant
        create = partial(service.create, booking(round_, space.id, person.id), None)
        created, removal = together(create, remove)
        with database.read() as conn:
            rows = conn.execute(
                select(reservations.c.ultimo_id).where(reservations.c.space_id == space.id)
            ).all()
        if isinstance(created, int):  # the create came first: the removal is refused
            right = isinstance(removal, StillReferenced) and rows == [(created,)]
        else:  # the removal came first: the create names something unknown
            right = isinstance(created, unknown) and removal is None and rows == []
        if not right:
            wrong.append((round_, created, removal))
    assert wrong == [], f"{len(wrong)} of {REMOVAL_ROUNDS} rounds went wrong"


class HotPathDoor:
    """The door's use cases as ``/api/booking`` runs them, each on an event loop of its
    own (``DoorService`` itself runs them in a write transaction of the thread)."""

    def __init__(self, door: DoorService) -> None:
        self.door = door
        self._write = HotPathService(door.service)._write

    def check_in(self, ultimo_id: int, actor: Actor | None = None) -> None:
        self._write(lambda path: self.door.check_in_on(path, ultimo_id, actor))

    def end_early(self, ultimo_id: int, actor: Actor | None = None) -> None:
        self._write(lambda path: self.door.end_early_on(path, ultimo_id, actor))

    def extend(self, ultimo_id: int, minutes: int, actor: Actor | None = None) -> None:
        self._write(lambda path: self.door.extend_on(path, ultimo_id, minutes, actor))


@pytest.fixture(params=["threads", "hot path"])
def door(database: Database, request: pytest.FixtureRequest) -> DoorService:
    threaded = DoorService(ReservationService(database, SystemClock(), Policy()), "UTC")
    if request.param == "threads":
        return threaded
    return HotPathDoor(threaded)  # type: ignore[return-value]


def running_now(database: Database) -> int:
    """A reservation of ROOM that started five minutes ago and runs 30 more, stored
    directly (a create cannot start in the past); the room is free around it."""
    now = datetime.now(UTC).replace(microsecond=0)
    with database.write() as conn:
        conn.execute(
            reservations.update()
            .where(reservations.c.status == "Processed")
            .values(status="Cancelled")
        )
        start, end = now - timedelta(minutes=5), now + timedelta(minutes=30)
        return store.insert_reservation(
            conn,
            space=ROOM,
            applicant_id=PERSON.id,
            description="At the door",
            start=start,
            end=end,
            blocked=blocked_interval(start, end, ROOM.preparation_minutes, ROOM.cleanup_minutes),
            api_key_id=None,
            external_id="",
            request_fingerprint=None,
            now=start,
        )


DOOR_ROUNDS = 30


def test_identical_check_ins_at_once_record_one_check_in(
    database: Database, door: DoorService
) -> None:
    wrong = []
    for round_ in range(DOOR_ROUNDS):
        ultimo_id = running_now(database)
        answers = together(*[partial(door.check_in, ultimo_id)] * 4)
        entries = trail(database, ultimo_id)
        if (
            any(isinstance(answer, Exception) for answer in answers)
            or [action for action, _ in entries] != ["check_in"]
            or entries[-1][1] != stored(database, ultimo_id)
        ):
            wrong.append((round_, answers, entries))
    assert wrong == [], f"{len(wrong)} of {DOOR_ROUNDS} rounds went wrong"


def test_an_early_end_and_an_extension_racing_end_as_one_after_the_other(
    database: Database, door: DoorService
) -> None:
    wrong = []
    for round_ in range(DOOR_ROUNDS):
        ultimo_id = running_now(database)
        ended, extended = together(
            partial(door.end_early, ultimo_id), partial(door.extend, ultimo_id, 15)
        )
        entries = trail(database, ultimo_id)
        # In either order: extended first, both succeed; ended first, the extension is
        # refused, as the reservation is over. Either way the trail ends in what is stored.
        expected = ["end"] if isinstance(extended, ReservationInPast) else ["update", "end"]
        if (
            isinstance(ended, Exception)
            or (isinstance(extended, Exception) and not isinstance(extended, ReservationInPast))
            or [action for action, _ in entries] != expected
            or entries[-1][1] != stored(database, ultimo_id)
        ):
            wrong.append((round_, ended, extended, entries))
    assert wrong == [], f"{len(wrong)} of {DOOR_ROUNDS} rounds went wrong"
