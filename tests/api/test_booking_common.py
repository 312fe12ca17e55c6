"""What every ``/api/booking`` operation shares, shown on reading one reservation:
the key and its grants, the error shape, the times in the space's zone, the OpenAPI tag,
and the client's calls (sync and async) on both databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest

from roomline.api.errors import error_response
from roomline.client import AsyncUltimoClient, BookedReservation, UltimoClient, UltimoError
from roomline.domain.errors import SpaceNotAvailable
from roomline.storage import reservations as store
from tests.conftest import World
from tests.support import DEMO_KEY, Server

WINTER = timezone(timedelta(hours=1))


@pytest.fixture(scope="module")
def booked(world: World) -> tuple[str, str]:
    """A reservation 10:00-11:00 Amsterdam time in a space with 15 and 10 minutes around it."""
    space = world.space(prep=15, cleanup=10, description="Board room")
    person = world.person("Fasse, J.")
    ultimo_id = world.reservation(
        space, datetime(2030, 1, 8, 9, tzinfo=UTC), datetime(2030, 1, 8, 10, tzinfo=UTC), person.id
    )
    return f"{ultimo_id:011d}", space.id


def test_reads_one_reservation_with_times_in_the_space_zone(
    server: Server, booked: tuple[str, str]
) -> None:
    ultimo_id, space_id = booked
    response = server.client.get(
        f"/api/booking/reservations/{ultimo_id}", headers={"ApiKey": DEMO_KEY}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {
        "ultimo_id": ultimo_id,
        "space_id": space_id,
        "applicant_id": body["applicant_id"],
        "applicant_name": "Fasse, J.",
        "description": "Stored directly",
        "start": "2030-01-08T10:00:00+01:00",
        "end": "2030-01-08T11:00:00+01:00",
        "blocked_start": "2030-01-08T09:45:00+01:00",
        "blocked_end": "2030-01-08T11:10:00+01:00",
        "status": "Processed",
        "checked_in_at": None,
        "checked_in_by": None,
        "released_at": None,
        "ended_at": None,
    }
    # Leading zeros are optional in the path, as in the Ultimo workflows.
    short = server.client.get(
        f"/api/booking/reservations/{int(ultimo_id)}", headers={"ApiKey": DEMO_KEY}
    )
    assert short.json() == body


def test_a_cancelled_reservation_is_shown_cancelled(server: Server, world: World) -> None:
    space = world.space()
    ultimo_id = world.reservation(
        space, datetime(2030, 2, 1, 9, tzinfo=UTC), datetime(2030, 2, 1, 10, tzinfo=UTC)
    )
    with world.database.write() as conn:
        store.cancel(conn, ultimo_id, datetime(2030, 1, 7, tzinfo=UTC))
    response = server.client.get(
        f"/api/booking/reservations/{ultimo_id}", headers={"ApiKey": DEMO_KEY}
    )
    assert response.json()["status"] == "Cancelled"


@pytest.mark.parametrize(
    ("headers", "status", "code", "message"),
    [
        pytest.param({}, 401, "MissingApiKey", "Missing API key", id="no key"),
        pytest.param(
            {"ApiKey": "0" * 32}, 401, "MissingApiKey", "Missing API key", id="unknown key"
        ),
        pytest.param({"ApiKey": ""}, 401, "MissingApiKey", "Missing API key", id="empty key"),
    ],
)
def test_keys_are_checked_as_for_the_workflows(
    server: Server,
    booked: tuple[str, str],
    headers: dict[str, str],
    status: int,
    code: str,
    message: str,
) -> None:
    response = server.client.get(f"/api/booking/reservations/{booked[0]}", headers=headers)
    assert response.status_code == status
    assert response.json() == {"message": message, "code": code}


def test_a_key_needs_the_operation_grant(
    server: Server, world: World, booked: tuple[str, str]
) -> None:
    path = f"/api/booking/reservations/{booked[0]}"
    not_granted = world.key(workflows=["series", "find", "REST_CreateReservation"])
    response = server.client.get(path, headers={"ApiKey": not_granted})
    assert response.status_code == 403
    assert response.json() == {
        "message": "This API key may not call REST_GetReservationsForSpace.",
        "code": "WorkflowNotAllowed",
    }
    granted = world.key(workflows=["REST_GetReservationsForSpace"])
    assert server.client.get(path, headers={"ApiKey": granted}).status_code == 200
    every = world.key()  # no list: every grant, including ones added later
    assert server.client.get(path, headers={"ApiKey": every}).status_code == 200


@pytest.mark.parametrize(
    ("ultimo_id", "status", "code"),
    [
        pytest.param("99999999999", 404, "RecordNotFound", id="unknown"),
        pytest.param("12ab", 400, "InvalidParameter", id="not digits"),
        pytest.param("123456789012", 400, "InvalidParameter", id="twelve digits"),
    ],
)
def test_bad_ids_are_refused_clearly(
    server: Server, ultimo_id: str, status: int, code: str
) -> None:
    response = server.client.get(
        f"/api/booking/reservations/{ultimo_id}", headers={"ApiKey": DEMO_KEY}
    )
    assert response.status_code == status
    assert response.json()["code"] == code
    if status == 404:
        assert response.json()["message"] == "There is no reservation 99999999999."


def test_a_misspelt_query_parameter_is_refused_not_ignored(
    server: Server, booked: tuple[str, str]
) -> None:
    """``?spaces=`` for ``?space=`` would otherwise answer every space's changes."""
    key = {"ApiKey": DEMO_KEY}
    response = server.client.get("/api/booking/changes?spaces=X&limit=5", headers=key)
    assert response.status_code == 400
    assert response.json() == {
        "message": 'Unknown query parameter "spaces"; it takes after, limit, space, wait.',
        "code": "InvalidParameter",
        "details": [{"parameter": "spaces"}],
    }
    one = server.client.get(f"/api/booking/reservations/{booked[0]}?a=1&b=2", headers=key)
    assert one.status_code == 400
    assert one.json()["message"] == (
        'Unknown query parameters "a", "b"; it takes no query parameters.'
    )
    # The key is checked first, as for every other refusal of a request's contents.
    assert server.client.get("/api/booking/changes?spaces=X").status_code == 401
    known = server.client.get(f"/api/booking/changes?space={booked[1]}&limit=5", headers=key)
    assert known.status_code == 200, known.text
    # The administrators' API and its audit trail refuse them the same way.
    for path, unknown in (("/api/manage/reports/utilisation", "by"), ("/api/manage/audit", "x")):
        refused = server.admin("GET", path, params={unknown: "1"})
        assert refused.status_code == 400, path
        assert refused.json()["code"] == "InvalidParameter"
        assert refused.json()["details"] == [{"parameter": unknown}]
    assert server.client.get("/api/manage/audit?x=1").status_code == 401


def test_openapi_lists_the_booking_tag_and_its_refusals(server: Server) -> None:
    document = server.client.get("/openapi.json").json()
    assert {"Booking"} <= {tag["name"] for tag in document["tags"]}
    operation = document["paths"]["/api/booking/reservations/{ultimo_id}"]["get"]
    assert operation["tags"] == ["Booking"]
    assert {"200", "400", "401", "403", "404", "429", "503"} <= set(operation["responses"])
    assert operation["security"] == [{"APIKeyHeader": []}]


def test_errors_carry_details_outside_the_ultimo_wire() -> None:
    refusal = SpaceNotAvailable("Room 1")
    refusal.details = [{"start": "2030-01-07T09:00:00+01:00", "code": "1015"}]
    assert b'"details":[{"start":"2030-01-07T09:00:00+01:00","code":"1015"}]' in (
        error_response(refusal, "/api/booking/series").body
    )
    assert b"details" not in error_response(refusal, "/api/V1/Action/REST_CreateReservation").body


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_the_client_reads_one_reservation(
    server: Server, booked: tuple[str, str], kind: str
) -> None:
    ultimo_id, space_id = booked

    async def read_async(number: str) -> BookedReservation:
        async with AsyncUltimoClient(server.base_url, DEMO_KEY) as client:
            return await client.get_reservation(number)

    def read(number: str) -> BookedReservation:
        if kind == "async":
            return asyncio.run(read_async(number))
        with UltimoClient(server.base_url, DEMO_KEY) as client:
            return client.get_reservation(number)

    found = read(ultimo_id)
    assert found.space_id == space_id
    assert found.start == datetime(2030, 1, 8, 10, tzinfo=WINTER)
    assert found.start.utcoffset() == timedelta(hours=1)
    assert found.blocked_end == datetime(2030, 1, 8, 11, 10, tzinfo=WINTER)
    with pytest.raises(UltimoError) as refused:
        read("99999999999")
    assert (refused.value.status_code, refused.value.code) == (404, "RecordNotFound")
    assert refused.value.details == []
