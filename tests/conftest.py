"""Shared fixtures: every server-backed test runs on SQLite and on PostgreSQL.

``backend`` is parametrized once for the session; ``database_url`` gives each test (or
module) its own empty database of that kind, dropped afterwards. PostgreSQL tests skip
with the reason when the server is unreachable, and fail instead under
``ROOMLINE_TEST_REQUIRE_PG=1`` (CI sets it).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection

from roomline.domain.reservations import Person, ReservationStatus, Space, blocked_interval
from roomline.services import audit
from roomline.services.keys import store_key
from roomline.storage import masterdata
from roomline.storage import reservations as store
from roomline.storage.database import Database
from roomline.storage.direct import OnConnection, drive
from tests.support import Server, fresh_database_url, start_server

# The shared test server's pinned clock: a Monday, well before the 2030 DST switches.
TEST_NOW = "2030-01-07T09:00:00Z"
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    with fresh_database_url(backend, tmp_path) as url:
        yield url


@pytest.fixture(scope="module")
def module_database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database_url(backend, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="module")
def server(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A demo server shared by a module's tests, its clock pinned at ``TEST_NOW``."""
    running = start_server(module_database_url, tmp_path_factory.mktemp("logs"), "--now", TEST_NOW)
    yield running
    running.stop()


@dataclass
class World:
    """Makes spaces, people and keys with unique ids directly in a server's database."""

    database: Database
    counter: Iterator[int]

    def space(
        self,
        *,
        prep: int = 0,
        cleanup: int = 0,
        tz: str | None = "Europe/Amsterdam",
        description: str | None = None,
        bookable: bool = True,
        capacity: int | None = 8,
        building: str | None = None,
        floor: str | None = None,
        features: tuple[str, ...] = (),
        check_in_required: bool = False,
        check_in_opens_minutes: int = 15,
        auto_release_minutes: int = 10,
    ) -> Space:
        number = next(self.counter)
        space = Space(
            id=f"S-{number}",
            description=f"Room {number}" if description is None else description,
            time_zone=tz,
            preparation_minutes=prep,
            cleanup_minutes=cleanup,
            capacity=capacity,
            bookable=bookable,
            building=building,
            floor=floor,
            features=features,
            check_in_required=check_in_required,
            check_in_opens_minutes=check_in_opens_minutes,
            auto_release_minutes=auto_release_minutes,
        )
        with self.database.write() as conn:
            masterdata.add_space(conn, space)
        return space

    def person(self, name: str = "Doe, J.") -> Person:
        person = Person(id=f"P-{next(self.counter)}", name=name)
        with self.database.write() as conn:
            masterdata.add_person(conn, person)
        return person

    def reservation(
        self,
        space: Space,
        start: datetime,
        end: datetime,
        applicant: str = "ULTIMO",
        description: str = "Stored directly",
        booked_at: datetime | None = None,
    ) -> int:
        """Store an active reservation directly (e.g. one that has already ended), booked
        at ``booked_at`` (default: its start)."""
        with self.database.write() as conn:
            return store.insert_reservation(
                conn,
                space=space,
                applicant_id=applicant,
                description=description,
                start=start,
                end=end,
                blocked=blocked_interval(
                    start, end, space.preparation_minutes, space.cleanup_minutes
                ),
                api_key_id=None,
                external_id="",
                request_fingerprint=None,
                now=booked_at or start,
            )

    def key(self, *, workflows: list[str] | None = None) -> str:
        secret = f"{next(self.counter):032X}"
        with self.database.write() as conn:
            store_key(
                conn,
                name=f"key-{secret}",
                secret=secret,
                now=datetime.now(UTC),
                workflows=workflows,
            )
        return secret


_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def world(server: Server) -> Iterator[World]:
    database = Database(server.database_url)
    yield World(database, _numbers)
    database.dispose()


@pytest.fixture
def make_world() -> Iterator[Callable[[str], World]]:
    """Build a World for any database URL (for tests that run their own server)."""
    databases: list[Database] = []

    def make(url: str) -> World:
        database = Database(url)
        databases.append(database)
        return World(database, _numbers)

    yield make
    for database in databases:
        database.dispose()


def door_event(conn: Connection, ultimo_id: int, action: str, at: datetime) -> None:
    """Check a reservation in, or release it for nobody checking in, at ``at``: the
    reservation's columns and its log entry, as services/door.py writes them (without
    the door's rules of when it may)."""
    before = store.get(conn, ultimo_id)
    assert before is not None
    if action == "check_in":
        store.check_in(conn, ultimo_id, at, "door")
        after = dataclasses.replace(before, checked_in_at=at, checked_in_by="door")
    else:
        assert action == "release", action
        assert store.release(conn, ultimo_id, at)
        after = dataclasses.replace(before, status=ReservationStatus.CANCELLED, released_at=at)
    drive(
        audit.record_on(
            OnConnection(conn), at=at, action=action, before=before, after=after, actor=None
        )
    )
