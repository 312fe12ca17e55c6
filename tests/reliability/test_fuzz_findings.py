"""Each finding of the schema-driven fuzzing and the hostile-input suite, kept as a test.

The fuzzing reruns the same seed in CI, but a change to the schema changes what it
generates; these pin every finding by hand, whatever the generators do.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest

from roomline.compat.ultimo import docs
from tests.conftest import TEST_NOW
from tests.support import Server, start_server

CREATE = "REST_CreateReservation"
GET = "REST_GetReservationsForSpace"
CANCEL = "REST_CancelReservation"
WORKFLOWS = ("REST_CreateReservation", "REST_UpdateReservation", CANCEL, GET)


@pytest.fixture
def fresh(database_url: str, tmp_path: Any) -> Iterator[Server]:
    """A demo server of the test's own, for findings that move the clock."""
    running = start_server(database_url, tmp_path, "--now", TEST_NOW)
    yield running
    running.stop()


# A shift of 7,405,542,079,375 seconds was stored, then every request that read the clock
# (the workflows too) answered 500 until the clock was set again.
@pytest.mark.parametrize("shift", [7_405_542_079_375, -(10**12), 3_162_240_001])
def test_a_huge_clock_shift_is_refused_and_breaks_nothing(fresh: Server, shift: int) -> None:
    response = fresh.admin("PUT", "/api/demo/clock", json={"shift_seconds": shift})
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameter"
    assert "shift_seconds" in response.json()["message"]
    assert fresh.admin("GET", "/api/demo/clock").json() == {
        "now": "2030-01-07T09:00:00Z",
        "pinned": True,
    }
    window = {"SpaceId": "C-25", "From": "2030-01-07 00:00:00", "Till": "2030-01-08 00:00:00"}
    assert fresh.call(GET, window).status_code == 200


def test_the_largest_clock_shift_still_works(fresh: Server) -> None:
    century = 100 * 366 * 24 * 3600
    for shift in (century, -century):
        assert (
            fresh.admin("PUT", "/api/demo/clock", json={"shift_seconds": shift}).status_code == 200
        )
        assert fresh.admin("GET", "/api/demo/clock").status_code == 200


@pytest.mark.parametrize("shift", [False, True, "60", 1.5])
def test_a_clock_shift_must_be_an_integer(server: Server, shift: Any) -> None:
    response = server.admin("PUT", "/api/demo/clock", json={"shift_seconds": shift})
    assert (response.status_code, response.json()["code"]) == (400, "InvalidParameter")
    assert server.admin("GET", "/api/demo/clock").json()["now"] == "2030-01-07T09:00:00Z"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/api/demo/clock", "GET, PUT"),
        ("DELETE", "/api/demo/clock", "GET, PUT"),
        ("TRACE", f"/api/V1/Action/{CREATE}", "POST"),
        ("GET", "/api/v1/action/rest_cancelreservation", "POST"),
        ("POST", "/healthz", "GET"),
        ("PUT", "/api/manage/spaces", "GET, POST"),
        ("POST", "/api/manage/spaces/C-25", "DELETE, GET, PATCH"),
    ],
)
def test_a_405_lists_every_method_of_the_path(
    server: Server, method: str, path: str, allow: str
) -> None:
    response = server.admin(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.json()["code"] == "MethodNotAllowed"


def test_management_booleans_and_numbers_are_not_coerced(server: Server) -> None:
    # {"bookable": 0} used to switch C-25 off.
    for change in ({"bookable": 0}, {"bookable": "false"}, {"preparation_minutes": "15"}):
        response = server.admin("PATCH", "/api/manage/spaces/C-25", json=change)
        assert (response.status_code, response.json()["code"]) == (400, "InvalidParameter")
    space = server.admin("GET", "/api/manage/spaces/C-25").json()
    assert (space["bookable"], space["preparation_minutes"]) == (True, 0)


@pytest.mark.parametrize("ultimo_id", ["٦٧١١", "６７１１", "00000006711\u0660"])
def test_only_ascii_digits_name_a_reservation(server: Server, ultimo_id: str) -> None:
    response = server.call(CANCEL, {"UltimoId": ultimo_id})
    assert (response.status_code, response.json()["code"]) == (400, "InvalidParameter")


def test_local_mean_time_offsets_are_written_to_the_minute(fresh: Server) -> None:
    # Amsterdam kept local mean time (+00:19:32) until 1937; Ultimo's ±HH:MM cannot hold
    # the seconds, and .NET's DateTimeOffset refuses them.
    fresh.set_clock("1900-06-01T00:00:00Z")
    created = fresh.call(
        CREATE,
        {
            "SpaceId": "003.0.10",
            "StartTime": "1900-06-01T10:00:00Z",
            "EndTime": "1900-06-01T11:00:00Z",
            "ApplicantId": "ULTIMO",
        },
    )
    assert created.status_code == 200, created.text
    window = {"SpaceId": "003.0.10", "From": "1900-06-01T00:00:00Z", "Till": "1900-06-02T00:00:00Z"}
    [item] = fresh.call(GET, window).json()["properties"]["Output"]["collection"]
    assert item["StartTime"] == "1900-06-01T10:20:00.000000+00:20"
    assert item["EndTime"] == "1900-06-01T11:20:00.000000+00:20"
    assert item["StartTimeIncludingPreparationTime"] == "1900-06-01T10:05:00.000000+00:20"
    # Read back, the written time is the same instant.
    again = {"SpaceId": "003.0.10", "From": item["StartTime"], "Till": item["EndTime"]}
    assert len(fresh.call(GET, again).json()["properties"]["Output"]["collection"]) == 1


def test_the_openapi_document_lists_what_the_server_answers(server: Server) -> None:
    document = server.client.get("/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert "422" not in statuses, (method, path)  # validation answers 400
            if operation.get("security"):
                assert "401" in statuses, (method, path)
            if path.startswith("/api/V1/Action/"):
                assert {"400", "401", "403", "413", "429", "431", "503"} <= statuses
            else:
                assert {"400", "431", "503"} <= statuses, (method, path)
            if path.startswith("/api/manage/") and method in ("post", "patch", "delete"):
                assert "409" in statuses, (method, path)
    clock = document["paths"]["/api/demo/clock"]["put"]["responses"]
    assert clock["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert "503" in document["paths"]["/healthz"]["get"]["responses"]


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_the_documented_examples_fit_the_documented_schemas(server: Server, workflow: str) -> None:
    document = server.client.get("/openapi.json").json()
    operation = document["paths"][f"/api/V1/Action/{workflow}"]["post"]
    content = operation["requestBody"]["content"]["application/json"]
    assert jsonschema_rs.is_valid(content["schema"], content["example"])
    [element_id] = [p for p in operation["parameters"] if p["name"] == "ApplicationElementId"]
    assert element_id["schema"]["enum"] == [docs.DOCUMENTED_ELEMENT_IDS[workflow]]


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        (
            {
                "SpaceId": "C-25",
                "StartTime": "2030-01-08 10:00:00",
                "EndTime": "2030-01-08 11:00:00",
                "ApplicantId": "ULTIMO",
                "Description": None,
                "ExternalId": None,
            },
            True,
        ),
        (
            {
                "SpaceId": "C-25",
                "StartTime": "2030-01-08 10:00:00",
                "EndTime": "2030-01-08 11:00:00",
                "Applicant": "ULTIMO",
                "ApplicantId": "ULTIMO",
            },
            False,
        ),
        (
            {
                "SpaceId": "C-25",
                "StartTime": "٢٠٣٠-٠١-٠٨ ١٠:٠٠:٠٠",
                "EndTime": "2030-01-08 11:00:00",
                "ApplicantId": "ULTIMO",
            },
            False,
        ),
        (
            {
                "SpaceId": "C-25\x00",
                "StartTime": "2030-01-08 10:00:00",
                "EndTime": "2030-01-08 11:00:00",
                "ApplicantId": "ULTIMO",
            },
            False,
        ),
    ],
    ids=["null optional fields", "Applicant and ApplicantId", "Arabic digits", "NUL in SpaceId"],
)
def test_the_create_schema_agrees_with_the_server(
    server: Server, body: dict[str, Any], valid: bool
) -> None:
    document = server.client.get("/openapi.json").json()
    schema = document["paths"][f"/api/V1/Action/{CREATE}"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    assert jsonschema_rs.is_valid(schema, body) is valid
    response = server.call(CREATE, body)
    assert (response.status_code == 200) is valid, response.text


# "/api/booking/series/preview" also matched "/series/{series_id}", so a PATCH of it
# answered 400 (not 405) and a 405 advertised GET and PATCH, which the path does not have.
@pytest.mark.parametrize("method", ["GET", "PATCH", "OPTIONS"])
def test_the_series_preview_path_takes_only_post(server: Server, method: str) -> None:
    response = server.client.request(
        method, "/api/booking/series/preview", headers={"ApiKey": "0" * 32}, json={}
    )
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.json() == {
        "message": "This path accepts only POST.",
        "code": "MethodNotAllowed",
    }
