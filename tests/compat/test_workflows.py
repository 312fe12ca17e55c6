"""The four workflows through the real server: happy paths, rules and the error catalogue.

The module's demo server has its clock pinned at 2030-01-07 09:00 UTC (10:00 in
Amsterdam); each test makes its own spaces so tests never share a calendar.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from roomline.storage.tables import reservations
from tests.conftest import World
from tests.support import Server

CREATE = "REST_CreateReservation"
UPDATE = "REST_UpdateReservation"
CANCEL = "REST_CancelReservation"
GET = "REST_GetReservationsForSpace"


def create_body(space_id: str, start: str, end: str, **extra: str) -> dict[str, str]:
    return {
        "ExternalId": "",
        "Description": "Meeting",
        "SpaceId": space_id,
        "StartTime": start,
        "EndTime": end,
        "ApplicantId": "ULTIMO",
        **extra,
    }


def error(code: str, message: str) -> dict[str, str]:
    return {"message": message, "type": "3", "code": code}


def stored_count(world: World) -> int:
    with world.database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(reservations)).scalar_one())


def created_id(response: Any) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["Properties"]["UltimoId"])


def collection(server: Server, space_id: str, start: str, end: str) -> list[dict[str, str]]:
    response = server.call(GET, {"SpaceId": space_id, "From": start, "Till": end})
    assert response.status_code == 200, response.text
    return list(response.json()["properties"]["Output"]["collection"])


def test_create_get_update_cancel(server: Server, world: World) -> None:
    space = world.space(prep=10, cleanup=5)
    ultimo_id = created_id(
        server.call(
            CREATE,
            create_body(
                space.id, "2030-01-08 10:00:00", "2030-01-08 11:00:00", Description="Board"
            ),
        )
    )
    assert len(ultimo_id) == 11 and ultimo_id.isdigit()
    assert collection(server, space.id, "2030-01-08 00:00:00", "2030-01-09 00:00:00") == [
        {
            "UltimoId": ultimo_id,
            "Description": "Board",
            "ApplicantId": "ULTIMO",
            "ApplicantName": "Fasse, J.",
            "StartTime": "2030-01-08T10:00:00.000000+01:00",
            "EndTime": "2030-01-08T11:00:00.000000+01:00",
            "StartTimeIncludingPreparationTime": "2030-01-08T09:50:00.000000+01:00",
            "EndTimeIncludingCleanupTime": "2030-01-08T11:05:00.000000+01:00",
            "Status": "Processed",
        }
    ]
    moved = server.call(
        UPDATE,
        {
            "UltimoId": ultimo_id,
            "StartTime": "2030-01-08T12:00:00Z",
            "EndTime": "2030-01-08T13:30:00Z",
        },
    )
    assert (moved.status_code, moved.json()) == (200, {"properties": {}})
    [item] = collection(server, space.id, "2030-01-08 00:00:00", "2030-01-09 00:00:00")
    assert (item["StartTime"], item["EndTime"]) == (
        "2030-01-08T13:00:00.000000+01:00",
        "2030-01-08T14:30:00.000000+01:00",
    )
    cancelled = server.call(CANCEL, {"UltimoId": ultimo_id})
    assert (cancelled.status_code, cancelled.json()) == (200, {"properties": {}})
    assert collection(server, space.id, "2030-01-08 00:00:00", "2030-01-09 00:00:00") == []
    again = server.call(CANCEL, {"UltimoId": ultimo_id})
    assert (again.status_code, again.json()) == (200, {"properties": {}})


def test_ultimo_ids_increase_and_are_never_reused(server: Server, world: World) -> None:
    space = world.space()
    first = created_id(
        server.call(CREATE, create_body(space.id, "2030-01-09 10:00:00", "2030-01-09 11:00:00"))
    )
    assert server.call(CANCEL, {"UltimoId": first}).status_code == 200
    second = created_id(
        server.call(CREATE, create_body(space.id, "2030-01-09 10:00:00", "2030-01-09 11:00:00"))
    )
    assert int(second) > int(first)


def test_get_orders_by_start_then_id_and_uses_half_open_windows(
    server: Server, world: World
) -> None:
    space = world.space()
    late = created_id(
        server.call(CREATE, create_body(space.id, "2030-01-10 14:00:00", "2030-01-10 15:00:00"))
    )
    early = created_id(
        server.call(CREATE, create_body(space.id, "2030-01-10 09:00:00", "2030-01-10 10:00:00"))
    )
    ids = [
        item["UltimoId"]
        for item in collection(server, space.id, "2030-01-10 00:00:00", "2030-01-11 00:00:00")
    ]
    assert ids == [early, late]
    # Windows touching a reservation's [StartTime, EndTime) do not include it.
    assert collection(server, space.id, "2030-01-10 10:00:00", "2030-01-10 14:00:00") == []
    assert [
        i["UltimoId"]
        for i in collection(server, space.id, "2030-01-10 09:59:59", "2030-01-10 14:00:01")
    ] == [early, late]


@pytest.mark.parametrize(
    ("start", "end", "status"),
    [
        pytest.param(
            "2030-01-11 11:30:00", "2030-01-11 12:00:00", 200, id="preparation touches cleanup"
        ),
        pytest.param(
            "2030-01-11 09:00:00", "2030-01-11 09:30:00", 200, id="cleanup touches preparation"
        ),
        pytest.param(
            "2030-01-11 11:20:00", "2030-01-11 12:00:00", 400, id="preparation overlaps cleanup"
        ),
        pytest.param(
            "2030-01-11 09:00:00", "2030-01-11 09:40:00", 400, id="cleanup overlaps preparation"
        ),
        pytest.param(
            "2030-01-11 11:00:00",
            "2030-01-11 12:00:00",
            400,
            id="touching times, overlapping blocks",
        ),
        pytest.param("2030-01-11 10:15:00", "2030-01-11 10:45:00", 400, id="inside"),
    ],
)
def test_preparation_and_cleanup_block_the_space(
    server: Server, world: World, start: str, end: str, status: int
) -> None:
    # Both reservations block 15 minutes either side: the first 09:45-11:15.
    space = world.space(prep=15, cleanup=15, description="Board room")
    created_id(
        server.call(CREATE, create_body(space.id, "2030-01-11 10:00:00", "2030-01-11 11:00:00"))
    )
    before = stored_count(world)
    response = server.call(CREATE, create_body(space.id, start, end))
    if status == 200:
        created_id(response)
        return
    assert (response.status_code, response.json()) == (
        400,
        error(
            "1015",
            "Room reservation cannot be requested or processed.\r\nCause: Board room is not available.",
        ),
    )
    assert stored_count(world) == before


def test_spaces_without_preparation_allow_back_to_back(server: Server, world: World) -> None:
    space = world.space()
    created_id(
        server.call(CREATE, create_body(space.id, "2030-01-11 10:00:00", "2030-01-11 11:00:00"))
    )
    created_id(
        server.call(CREATE, create_body(space.id, "2030-01-11 11:00:00", "2030-01-11 12:00:00"))
    )
    created_id(
        server.call(CREATE, create_body(space.id, "2030-01-11 09:00:00", "2030-01-11 10:00:00"))
    )
