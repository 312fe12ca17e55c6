"""``roomline.client`` against a real roomline server, synchronously and asynchronously.

The demo server's clock stands at TEST_NOW (2030-01-07 09:00 UTC); its demo data holds
reservation 00000006710, which ended in 2021.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from roomline.client import (
    AsyncUltimoClient,
    Reservation,
    ReservationInPast,
    SpaceNotAvailable,
    UltimoClient,
    UltimoError,
    Unauthorized,
)
from tests.conftest import World
from tests.support import DEMO_KEY, Server

AMSTERDAM_WINTER = timezone(timedelta(hours=1))


class AsyncAsSync:
    """Drive AsyncUltimoClient with the sync client's calls, one event loop per call."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            async def run() -> Any:
                async with AsyncUltimoClient(*self.args, **self.kwargs) as client:
                    return await getattr(client, name)(*args, **kwargs)

            return asyncio.run(run())

        return call


@pytest.fixture(params=["sync", "async"])
def connect(request: pytest.FixtureRequest, server: Server) -> Any:
    """Return a factory of clients for the test server, of the kind under test."""

    def make(key: str = DEMO_KEY, **options: Any) -> Any:
        if request.param == "sync":
            client = UltimoClient(server.base_url, key, **options)
            request.addfinalizer(client.close)
            return client
        return AsyncAsSync(server.base_url, key, **options)

    return make


def test_create_get_update_cancel(connect: Any, world: World) -> None:
    space = world.space(prep=15, cleanup=5, description="Board room")
    person = world.person("Doe, J.")
    client = connect()
    start = datetime(2030, 1, 8, 9, 0, tzinfo=UTC)

    ultimo_id = client.create_reservation(
        space_id=space.id,
        start=start,
        end=start + timedelta(hours=1),
        applicant_id=person.id,
        description="Planning",
    )
    assert len(ultimo_id) == 11 and ultimo_id.isdigit()

    window = (datetime(2030, 1, 8, tzinfo=UTC), datetime(2030, 1, 9, tzinfo=UTC))
    [found] = client.get_reservations(space.id, *window)
    assert found == Reservation(
        ultimo_id=ultimo_id,
        description="Planning",
        applicant_id=person.id,
        applicant_name="Doe, J.",
        start=start,
        end=start + timedelta(hours=1),
        start_including_preparation=start - timedelta(minutes=15),
        end_including_cleanup=start + timedelta(hours=1, minutes=5),
        status="Processed",
    )
    # Real datetimes, in the space's offset (Amsterdam, winter), as the server wrote them.
    assert found.start.utcoffset() == timedelta(hours=1)
    assert found.start.isoformat() == "2030-01-08T10:00:00+01:00"

    # A naive datetime is wall-clock time in the space's zone: 14:00 Amsterdam.
    client.update_reservation(ultimo_id, end=datetime(2030, 1, 8, 14, 0))
    [moved] = client.get_reservations(space.id, *window)
    assert moved.end == datetime(2030, 1, 8, 14, 0, tzinfo=AMSTERDAM_WINTER)

    client.update_reservation(
        int(ultimo_id), start="2030-01-08 11:00:00", end="2030-01-08 12:00:00"
    )
    [moved] = client.get_reservations(space.id, "2030-01-08 00:00:00", "2030-01-09 00:00:00")
    assert (moved.start, moved.end) == (
        datetime(2030, 1, 8, 10, 0, tzinfo=UTC),
        datetime(2030, 1, 8, 11, 0, tzinfo=UTC),
    )

    client.cancel_reservation(ultimo_id)
    client.cancel_reservation(ultimo_id)  # again: still fine, by the contract
    assert client.get_reservations(space.id, *window) == []


def test_create_with_external_id_is_idempotent(connect: Any, world: World) -> None:
    space, person = world.space(), world.person()
    client = connect()
    booking = {
        "space_id": space.id,
        "start": "2030-01-09 09:00:00",
        "end": "2030-01-09 10:00:00",
        "applicant_id": person.id,
        "external_id": f"ext-{space.id}",
    }
    first = client.create_reservation(**booking)
    assert client.create_reservation(**booking) == first
    assert [
        r.ultimo_id
        for r in client.get_reservations(space.id, "2030-01-09 00:00:00", "2030-01-10 00:00:00")
    ] == [first]
    with pytest.raises(UltimoError) as refused:
        client.create_reservation(**{**booking, "description": "something else"})
    assert (refused.value.code, refused.value.status_code) == ("DuplicateExternalId", 400)


def test_space_not_available(connect: Any, world: World) -> None:
    space, person = world.space(cleanup=30, description="Meeting room 7"), world.person()
    client = connect()
    client.create_reservation(
        space_id=space.id,
        start="2030-01-10 09:00:00",
        end="2030-01-10 10:00:00",
        applicant_id=person.id,
    )
    with pytest.raises(SpaceNotAvailable) as taken:
        client.create_reservation(
            space_id=space.id,
            start="2030-01-10 10:15:00",  # inside the cleanup time
            end="2030-01-10 11:00:00",
            applicant_id=person.id,
        )
    error = taken.value
    assert isinstance(error, UltimoError)
    assert (error.code, error.status_code) == ("1015", 400)
    assert error.message == (
        "Room reservation cannot be requested or processed.\r\n"
        "Cause: Meeting room 7 is not available."
    )
    assert error.space_description == "Meeting room 7"
    assert error.body == {"message": error.message, "type": "3", "code": "1015"}


@pytest.mark.parametrize("action", ["update", "cancel"])
def test_reservation_in_past(connect: Any, action: str) -> None:
    client = connect()
    with pytest.raises(ReservationInPast) as ended:
        if action == "update":
            client.update_reservation("00000006710", end="2030-01-08 10:00:00")
        else:
            client.cancel_reservation("00000006710")
    assert isinstance(ended.value, UltimoError)
    assert (ended.value.code, ended.value.status_code) == ("1166", 400)
    assert ended.value.message == (
        "Room reservation cannot be modified.\r\nCause: Room reservation is in the past."
    )


@pytest.mark.parametrize("key", ["0" * 32, "", "not a key"])
def test_unauthorized(connect: Any, key: str) -> None:
    with pytest.raises(Unauthorized) as refused:
        connect(key).get_reservations("C-25", "2030-01-08 00:00:00", "2030-01-09 00:00:00")
    assert isinstance(refused.value, UltimoError)
    assert (refused.value.code, refused.value.message, refused.value.status_code) == (
        "MissingApiKey",
        "Missing API key",
        401,
    )


def test_other_refusals_are_ultimo_errors(connect: Any, world: World) -> None:
    client = connect()
    with pytest.raises(UltimoError) as unknown:
        client.get_reservations("NO-SUCH-SPACE", "2030-01-08 00:00:00", "2030-01-09 00:00:00")
    assert type(unknown.value) is UltimoError
    assert (unknown.value.code, unknown.value.status_code) == ("UnknownSpace", 400)
    assert unknown.value.message == "SpaceId 'NO-SUCH-SPACE' is not a known space."
    assert str(unknown.value) == "UnknownSpace: SpaceId 'NO-SUCH-SPACE' is not a known space."

    reader = connect(world.key(workflows=["REST_GetReservationsForSpace"]))
    with pytest.raises(UltimoError) as forbidden:
        reader.cancel_reservation("00000006711")
    assert (forbidden.value.code, forbidden.value.status_code) == ("WorkflowNotAllowed", 403)


def test_application_element_ids(connect: Any, world: World) -> None:
    space = world.space()
    window = ("2030-01-08 00:00:00", "2030-01-09 00:00:00")
    assert connect(send_application_element_id=False).get_reservations(space.id, *window) == []
    custom = connect(
        application_element_ids={
            "REST_GetReservationsForSpace": "{860EA0914D7647D9A733C3BB18440DDE}"
        }
    )
    assert custom.get_reservations(space.id, *window) == []
    wrong = connect(
        application_element_ids={
            "REST_GetReservationsForSpace": "00000000-0000-0000-0000-000000000000"
        }
    )
    with pytest.raises(UltimoError) as refused:
        wrong.get_reservations(space.id, *window)
    assert refused.value.code == "InvalidApplicationElementId"


def test_unknown_workflow_in_options_is_refused(server: Server) -> None:
    with pytest.raises(ValueError, match="unknown workflows: REST_Book"):
        UltimoClient(server.base_url, DEMO_KEY, application_element_ids={"REST_Book": "x"})


def test_the_client_stands_alone() -> None:
    """Importing the client pulls in none of roomline's server, nor its frameworks."""
    probe = (
        "import sys, roomline.client\n"
        "server = ('fastapi', 'starlette', 'sqlalchemy', 'alembic', 'pydantic', 'typer', 'uvicorn')\n"
        "inside = ('roomline.domain', 'roomline.storage', 'roomline.services', 'roomline.api', "
        "'roomline.compat', 'roomline.config', 'roomline.cli')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in server or m.startswith(tuple(p + '.' for p in inside)) or m in inside))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
