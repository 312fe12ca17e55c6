"""Model-based property tests: random sequences of create, update, cancel, get, clock moves
and space changes, run against roomline and against the reference model (``model.py``).

After every step, roomline's answer (the UltimoId, the error code, the listed items) is
the model's, the stored reservations are exactly the model's (times, snapshots of
preparation and cleanup, status), and no two active reservations of a space have
overlapping blocked intervals. Spaces get random preparation and cleanup minutes and
zones with daylight saving time (Amsterdam, New York, Auckland, Lord Howe's half-hour
shift) and without; the clock starts near one of their 2030 switches, so requests fall
into spring-forward gaps and fall-back hours.

Two drivers, on a real SQLite or PostgreSQL database each:
- the service layer with a controllable clock (many examples, fast);
- the real server over HTTP (fewer), with the demo clock API and the management API.
Examples are derandomized, so CI runs the same ones; ``ROOMLINE_MODEL_EXAMPLES`` scales
them up for a longer search.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from roomline.domain.errors import RoomlineError
from roomline.domain.reservations import Person, Space
from roomline.services.keys import store_key
from roomline.services.reservations import (
    NewReservation,
    Policy,
    ReservationService,
    TimeChange,
    Window,
)
from roomline.storage import masterdata
from roomline.storage.database import Database
from roomline.storage.migrate import upgrade
from tests.conftest import World
from tests.reliability.model import (
    Model,
    ModelReservation,
    ModelSpace,
    NewBooking,
    Refused,
    TimeText,
)
from tests.reliability.stored import overlapping, reservation_rows
from tests.support import Server, start_server

SCALE = int(os.environ.get("ROOMLINE_MODEL_EXAMPLES", "1"))
OUTCOMES: Counter[str] = Counter()  # what the machines did, printed after each run
ZONES = [
    "Europe/Amsterdam",
    "America/New_York",
    "Pacific/Auckland",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "UTC",
]
# Half a day before a 2030 switch: EU spring forward and fall back, New Zealand and Lord
# Howe fall back and spring forward, US spring forward.
STARTS = [
    datetime(2030, 3, 30, 12, tzinfo=UTC),
    datetime(2030, 10, 26, 12, tzinfo=UTC),
    datetime(2030, 4, 6, 4, tzinfo=UTC),
    datetime(2030, 9, 28, 4, tzinfo=UTC),
    datetime(2030, 3, 9, 20, tzinfo=UTC),
]
PEOPLE = ("P-ALICE", "P-BOB")
QUARTER = timedelta(minutes=15)
FORMS = ["wall"] * 6 + ["wall-T", "wall-T", "utc", "utc", "offset", "offset", "impossible"]
OFFSETS = [0, 60, 120, -300, 330, 630, 780]


class Driver(Protocol):
    """One way of talking to roomline; it refuses by raising Refused(code)."""

    database: Database

    def add_space(self, space: ModelSpace) -> None: ...
    def change_space(self, space: ModelSpace) -> None: ...
    def set_clock(self, now: datetime) -> None: ...
    def create(self, booking: NewBooking) -> int: ...
    def update(self, ultimo_id: int, start: TimeText | None, end: TimeText | None) -> None: ...
    def cancel(self, ultimo_id: int) -> None: ...
    def window(
        self, space_id: str, since: TimeText, till: TimeText
    ) -> list[tuple[int, datetime, datetime]]: ...


# ---- the service layer, with a clock the test holds --------------------------------


@dataclass
class HeldClock:
    current: datetime

    def now(self, conn: Any) -> datetime:
        return self.current


class ServiceDriver:
    def __init__(self, url: str) -> None:
        self.database = Database(url)
        upgrade(self.database)
        self.clock = HeldClock(STARTS[0])
        self.service = ReservationService(self.database, self.clock, Policy())
        with self.database.write() as conn:
            for person in PEOPLE:
                masterdata.add_person(conn, Person(person, person.title()))
            self.keys = [
                store_key(conn, name=f"model-{n}", secret=f"{n + 1:032X}", now=STARTS[0])
                for n in range(2)
            ]

    def add_space(self, space: ModelSpace) -> None:
        with self.database.write() as conn:
            masterdata.add_space(conn, _space(space))

    def change_space(self, space: ModelSpace) -> None:
        with self.database.write() as conn:
            masterdata.update_space(conn, _space(space))

    def set_clock(self, now: datetime) -> None:
        self.clock.current = now

    def create(self, booking: NewBooking) -> int:
        request = NewReservation(
            space_id=booking.space_id,
            applicant_id=booking.applicant_id,
            start_time=booking.start.text,
            end_time=booking.end.text,
            description=booking.description,
            external_id=booking.external_id,
        )
        with refusals():
            return self.service.create(request, self.keys[booking.key])

    def update(self, ultimo_id: int, start: TimeText | None, end: TimeText | None) -> None:
        change = TimeChange(ultimo_id, start and start.text, end and end.text)
        with refusals():
            self.service.update(change)

    def cancel(self, ultimo_id: int) -> None:
        with refusals():
            self.service.cancel(ultimo_id)

    def window(
        self, space_id: str, since: TimeText, till: TimeText
    ) -> list[tuple[int, datetime, datetime]]:
        with refusals():
            result = self.service.in_window(Window(space_id, since.text, till.text))
        return [(item.ultimo_id, _instant(item.start), _instant(item.end)) for item in result.items]


def _instant(utc_text: str) -> datetime:
    return datetime.fromisoformat(utc_text + "+00:00")


@contextmanager
def refusals() -> Iterator[None]:
    """Turn roomline's refusal into the model's vocabulary."""
    try:
        yield
    except RoomlineError as exc:
        raise Refused(exc.code) from exc


def _space(space: ModelSpace) -> Space:
    return Space(space.id, space.id, space.zone.key, space.preparation, space.cleanup, 4, True)


# ---- the real server over HTTP ------------------------------------------------------


class HttpDriver:
    def __init__(self, server: Server, world: World) -> None:
        self.server = server
        self.database = world.database
        for person in PEOPLE:
            with self.database.write() as conn:
                if masterdata.get_person(conn, person) is None:
                    masterdata.add_person(conn, Person(person, person.title()))
        self.keys = [world.key(), world.key()]

    def add_space(self, space: ModelSpace) -> None:
        body = {
            "id": space.id,
            "time_zone": space.zone.key,
            "preparation_minutes": space.preparation,
            "cleanup_minutes": space.cleanup,
        }
        response = self.server.admin("POST", "/api/manage/spaces", json=body)
        assert response.status_code == 201, response.text

    def change_space(self, space: ModelSpace) -> None:
        body = {"preparation_minutes": space.preparation, "cleanup_minutes": space.cleanup}
        response = self.server.admin("PATCH", f"/api/manage/spaces/{space.id}", json=body)
        assert response.status_code == 200, response.text

    def set_clock(self, now: datetime) -> None:
        self.server.set_clock(now.isoformat())

    def _call(self, workflow: str, body: dict[str, str], key: int = 0) -> Any:
        response = self.server.call(workflow, body, key=self.keys[key])
        if response.status_code != 200:
            assert response.status_code == 400, response.text
            raise Refused(response.json()["code"])
        return response.json()

    def create(self, booking: NewBooking) -> int:
        body = {
            "ExternalId": booking.external_id,
            "Description": booking.description,
            "SpaceId": booking.space_id,
            "StartTime": booking.start.text,
            "EndTime": booking.end.text,
            "ApplicantId": booking.applicant_id,
        }
        answer = self._call("REST_CreateReservation", body, booking.key)
        return int(answer["Properties"]["UltimoId"])

    def update(self, ultimo_id: int, start: TimeText | None, end: TimeText | None) -> None:
        body = {"UltimoId": f"{ultimo_id:011d}"}
        if start is not None:
            body["StartTime"] = start.text
        if end is not None:
            body["EndTime"] = end.text
        assert self._call("REST_UpdateReservation", body) == {"properties": {}}

    def cancel(self, ultimo_id: int) -> None:
        answer = self._call("REST_CancelReservation", {"UltimoId": f"{ultimo_id:011d}"})
        assert answer == {"properties": {}}

    def window(
        self, space_id: str, since: TimeText, till: TimeText
    ) -> list[tuple[int, datetime, datetime]]:
        body = {"SpaceId": space_id, "From": since.text, "Till": till.text}
        items = self._call("REST_GetReservationsForSpace", body)["properties"]["Output"]
        return [
            (
                int(item["UltimoId"]),
                datetime.fromisoformat(item["StartTime"]),
                datetime.fromisoformat(item["EndTime"]),
            )
            for item in items["collection"]
        ]


# ---- the machine --------------------------------------------------------------------


def time_pairs(
    base: datetime, low: int, high: int, length: tuple[int, int]
) -> st.SearchStrategy[tuple[TimeText, TimeText]]:
    """Two times on a quarter-hour grid near ``base``, the second ``length`` steps later."""
    origin = base.replace(tzinfo=None)

    def text(naive: datetime, form: str, offset: int) -> TimeText:
        return TimeText(naive, form, offset)

    def pair(first: int, steps: int, forms: tuple[str, str], offsets: tuple[int, int]) -> Any:
        start = origin + first * QUARTER
        return (
            text(start, forms[0], offsets[0]),
            text(start + steps * QUARTER, forms[1], offsets[1]),
        )

    form = st.sampled_from(FORMS)
    offset = st.sampled_from(OFFSETS)
    return st.builds(
        pair,
        st.integers(low, high),
        st.integers(max(1, length[0]), length[1]) | st.integers(length[0], 0),  # rarely reversed
        # Mostly both in one form, as clients write them; sometimes mixed.
        form.map(lambda one: (one, one)) | st.tuples(form, form),
        offset.map(lambda one: (one, one)) | st.tuples(offset, offset),
    )


class ReservationMachine(RuleBasedStateMachine):
    driver: Driver  # set by the test that runs the machine

    def __init__(self) -> None:
        super().__init__()
        self.model: Model | None = None
        self.run = uuid.uuid4().hex[:8]
        self.steps: list[str] = []

    @initialize(
        start=st.sampled_from(STARTS),
        spaces=st.lists(
            st.tuples(
                st.sampled_from(ZONES),
                st.sampled_from([0, 5, 15, 30]),
                st.sampled_from([0, 10, 15]),
            ),
            min_size=1,
            max_size=3,
        ),
    )
    def begin(self, start: datetime, spaces: list[tuple[str, int, int]]) -> None:
        self.model = Model(now=start, people=set(PEOPLE))
        self.driver.set_clock(start)
        for number, (zone, preparation, cleanup) in enumerate(spaces):
            space = ModelSpace(f"M{self.run}-{number}", ZoneInfo(zone), preparation, cleanup)
            self.model.spaces[space.id] = space
            self.driver.add_space(space)

    @property
    def m(self) -> Model:
        assert self.model is not None
        return self.model

    def _space_id(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from([*sorted(self.m.spaces) * 5, "NO-SUCH-SPACE"]))

    def _ultimo_id(self, data: st.DataObject) -> int:
        known = sorted(self.m.reservations)
        # 99999999999 is never handed out here (other examples' numbers may be).
        return data.draw(st.sampled_from([*known * 5, 99_999_999_999]))

    @precondition(lambda self: self.model is not None)
    @rule(data=st.data())
    def create(self, data: st.DataObject) -> None:
        start, end = data.draw(time_pairs(self.m.now, -8, 112, (-1, 16)))
        booking = NewBooking(
            space_id=self._space_id(data),
            applicant_id=data.draw(st.sampled_from([*PEOPLE * 4, "NOBODY"])),
            start=start,
            end=end,
            description=data.draw(st.sampled_from(["", "Stand-up", "Board\r\nmeeting"])),
            external_id=data.draw(st.sampled_from(["", "", f"{self.run}-A", f"{self.run}-B"])),
            key=data.draw(st.sampled_from([0, 1])),
        )
        self.steps.append(f"create {booking}")
        expected = _outcome(lambda: self.m.create(booking))
        _count("create", expected)
        actual = _outcome(lambda: self.driver.create(booking))
        if isinstance(expected, ModelReservation):
            assert isinstance(actual, int), (booking, actual)
            self.m.created(booking, expected, actual)
        else:
            assert actual == expected, (booking, self.m.now)

    @precondition(lambda self: self.model is not None)
    @rule(data=st.data())
    def create_more(self, data: st.DataObject) -> None:
        self.create(data)  # creates twice as often as the other requests

    @precondition(lambda self: self.model is not None and self.model.reservations)
    @rule(data=st.data())
    def update(self, data: st.DataObject) -> None:
        ultimo_id = self._ultimo_id(data)
        start, end = data.draw(time_pairs(self.m.now, -8, 112, (-1, 16)))
        which = data.draw(st.sampled_from(["both", "both", "start", "end"]))
        start_text = None if which == "end" else start
        end_text = None if which == "start" else end
        self.steps.append(f"update {ultimo_id} {start_text} {end_text}")
        expected = _outcome(lambda: self.m.update(ultimo_id, start_text, end_text))
        _count("update", expected)
        actual = _outcome(lambda: self.driver.update(ultimo_id, start_text, end_text))
        if isinstance(expected, ModelReservation):
            assert actual is None, (ultimo_id, start_text, end_text, actual)
            self.m.updated(expected)
        else:
            assert actual == expected, (ultimo_id, start_text, end_text, self.m.now)

    @precondition(lambda self: self.model is not None and self.model.reservations)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        ultimo_id = self._ultimo_id(data)
        self.steps.append(f"cancel {ultimo_id}")
        expected = _outcome(lambda: self.m.cancel(ultimo_id))
        _count("cancel", expected)
        assert _outcome(lambda: self.driver.cancel(ultimo_id)) == expected, self.m.now

    @precondition(lambda self: self.model is not None)
    @rule(data=st.data())
    def get(self, data: st.DataObject) -> None:
        space_id = self._space_id(data)
        since, till = data.draw(time_pairs(self.m.now, -16, 112, (-2, 160)))
        if data.draw(st.integers(0, 9)) == 0:
            till = TimeText(since.naive + timedelta(days=367), "utc")
        self.steps.append(f"get {space_id} {since} {till}")
        expected = _outcome(lambda: self.m.window(space_id, since, till))
        _count("get", expected)
        actual = _outcome(lambda: self.driver.window(space_id, since, till))
        if isinstance(expected, list):
            assert isinstance(actual, list), actual
            assert [item[0] for item in actual] == expected
            for ultimo_id, start, end in actual:
                reservation = self.m.reservations[ultimo_id]
                assert (start, end) == (reservation.start, reservation.end)
        else:
            assert actual == expected

    @precondition(lambda self: self.model is not None)
    @rule(quarters=st.integers(-8, 48))
    def move_clock(self, quarters: int) -> None:
        self.m.now += quarters * QUARTER
        self.steps.append(f"clock {self.m.now}")
        self.driver.set_clock(self.m.now)

    @precondition(lambda self: self.model is not None)
    @rule(
        data=st.data(),
        preparation=st.sampled_from([0, 15, 45]),
        cleanup=st.sampled_from([0, 5, 30]),
    )
    def change_space(self, data: st.DataObject, preparation: int, cleanup: int) -> None:
        space = self.m.spaces[data.draw(st.sampled_from(sorted(self.m.spaces)))]
        space.preparation, space.cleanup = preparation, cleanup
        self.steps.append(f"space {space}")
        self.driver.change_space(space)

    @invariant()
    def stored_state_is_the_models(self) -> None:
        if self.model is None:
            return
        spaces = sorted(self.m.spaces)
        assert reservation_rows(self.driver.database, spaces) == self.m.stored_rows()
        assert overlapping(self.driver.database, spaces) == []


def _outcome(action: Callable[[], Any]) -> Any:
    """The result of ``action``, or the code it was refused with."""
    try:
        return action()
    except Refused as refusal:
        return refusal.code


def _count(rule_name: str, expected: Any) -> None:
    """Tell hypothesis's statistics what happened (pytest --hypothesis-show-statistics)."""
    outcome = f"{rule_name}: {expected if isinstance(expected, str) else 'done'}"
    event(outcome)
    OUTCOMES[outcome] += 1


def run_machine(driver: Driver, examples: int, steps: int) -> None:
    machine = type("Machine", (ReservationMachine,), {"driver": driver})
    OUTCOMES.clear()
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples * SCALE,
            stateful_step_count=steps,
            deadline=None,
            derandomize=SCALE == 1,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    print(f"{sum(OUTCOMES.values())} requests:", dict(sorted(OUTCOMES.items())))


@pytest.fixture
def service_driver(database_url: str) -> Iterator[ServiceDriver]:
    driver = ServiceDriver(database_url)
    yield driver
    driver.database.dispose()


def test_service_layer_follows_the_model(service_driver: ServiceDriver) -> None:
    run_machine(service_driver, examples=60, steps=40)


@pytest.fixture
def http_driver(
    database_url: str, tmp_path: Path, make_world: Callable[[str], World]
) -> Iterator[HttpDriver]:
    server = start_server(database_url, tmp_path, "--now", STARTS[0].isoformat())
    try:
        yield HttpDriver(server, make_world(database_url))
    finally:
        server.stop()


def test_server_over_http_follows_the_model(http_driver: HttpDriver) -> None:
    run_machine(http_driver, examples=15, steps=25)
