"""How requests are read: tolerances, strict mode, and the error catalogue.

Every refusal must answer a 4xx JSON error and store nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.compat.test_workflows import (
    CANCEL,
    CREATE,
    GET,
    UPDATE,
    create_body,
    created_id,
    error,
    stored_count,
)
from tests.conftest import TEST_NOW, World
from tests.support import ELEMENT_IDS, Server, start_server


@pytest.fixture(scope="module")
def strict_server(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory, server: Server
) -> Iterator[Server]:
    """A strict demo server on the same database as ``server`` (started after it)."""
    running = start_server(
        module_database_url, tmp_path_factory.mktemp("strict"), "--now", TEST_NOW, "--strict"
    )
    yield running
    running.stop()


# ---- tolerances -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/action/REST_CreateReservation",
        "/api/v1/action/rest_createreservation",
        "/API/V1/ACTION/REST_CREATERESERVATION",
    ],
)
def test_path_matches_case_insensitively(server: Server, world: World, path: str) -> None:
    space = world.space()
    created_id(
        server.call(
            CREATE, create_body(space.id, "2030-02-03 10:00:00", "2030-02-03 11:00:00"), path=path
        )
    )


def test_property_names_match_case_insensitively(server: Server, world: World) -> None:
    space = world.space()
    body = {
        "externalid": "",
        "DESCRIPTION": "x",
        "spaceId": space.id,
        "starttime": "2030-02-04 10:00:00",
        "ENDTIME": "2030-02-04 11:00:00",
        "applicant": "ULTIMO",
        "SomethingElse": 1,
    }
    created_id(server.call(CREATE, body))


def test_external_id_and_description_may_be_absent(server: Server, world: World) -> None:
    space = world.space()
    created_id(
        server.call(
            CREATE,
            {
                "SpaceId": space.id,
                "StartTime": "2030-02-05 10:00:00",
                "EndTime": "2030-02-05 11:00:00",
                "ApplicantId": "ULTIMO",
            },
        )
    )


@pytest.mark.parametrize(
    "element_id",
    [
        "0167a94a-5dae-4efe-bf13-029a47728b97",
        "0167A94A5DAE4EFEBF13029A47728B97",
        "{0167A94A-5DAE-4EFE-BF13-029A47728B97}",
        None,
    ],
    ids=["documented", "32 uppercase hex", "braces", "missing"],
)
def test_application_element_id_forms(server: Server, world: World, element_id: str | None) -> None:
    space = world.space()
    headers = {} if element_id is None else {"ApplicationElementId": element_id}
    created_id(
        server.call(
            CREATE,
            create_body(space.id, "2030-02-06 10:00:00", "2030-02-06 11:00:00"),
            element_id=False,
            headers=headers,
        )
    )


def test_update_accepts_one_time_alone(server: Server, world: World) -> None:
    space = world.space()
    ultimo_id = created_id(
        server.call(CREATE, create_body(space.id, "2030-02-07 10:00:00", "2030-02-07 11:00:00"))
    )
    assert (
        server.call(UPDATE, {"UltimoId": ultimo_id, "EndTime": "2030-02-07 12:00:00"}).status_code
        == 200
    )
    assert (
        server.call(UPDATE, {"UltimoId": ultimo_id, "StartTime": "2030-02-07 09:00:00"}).status_code
        == 200
    )
    response = server.call(
        GET, {"SpaceId": space.id, "From": "2030-02-07 00:00:00", "Till": "2030-02-08 00:00:00"}
    )
    [item] = response.json()["properties"]["Output"]["collection"]
    assert (item["StartTime"], item["EndTime"]) == (
        "2030-02-07T09:00:00.000000+01:00",
        "2030-02-07T12:00:00.000000+01:00",
    )


def test_ultimo_id_without_leading_zeros(server: Server, world: World) -> None:
    space = world.space()
    ultimo_id = created_id(
        server.call(CREATE, create_body(space.id, "2030-02-08 10:00:00", "2030-02-08 11:00:00"))
    )
    assert server.call(CANCEL, {"UltimoId": str(int(ultimo_id))}).status_code == 200


# ---- strict mode ----------------------------------------------------------------------


def test_strict_accepts_the_documented_examples(strict_server: Server, world: World) -> None:
    space = world.space()
    body = create_body(space.id, "2030-02-09 12:00:00", "2030-02-09 13:00:00")
    body["Applicant"] = body.pop("ApplicantId")  # as the documentation spells it
    ultimo_id = created_id(strict_server.call(CREATE, body))
    assert (
        strict_server.call(
            UPDATE,
            {
                "UltimoId": ultimo_id,
                "StartTime": "2030-02-09 12:00:00",
                "EndTime": "2030-02-09 14:00:00",
            },
        ).status_code
        == 200
    )
    assert (
        strict_server.call(
            GET, {"From": "2030-02-09 00:00:00", "Till": "2030-02-10 00:00:00", "SpaceId": space.id}
        ).status_code
        == 200
    )
    assert strict_server.call(CANCEL, {"UltimoId": ultimo_id}).status_code == 200


@pytest.mark.parametrize(
    ("workflow", "body", "headers", "status", "expected"),
    [
        pytest.param(
            CREATE,
            "casing",
            {},
            400,
            ("WrongParameterCasing", "Property 'spaceid' must be spelled 'SpaceId' (strict mode)."),
            id="wrong casing",
        ),
        pytest.param(
            CREATE,
            "unknown",
            {},
            400,
            (
                "UnknownParameter",
                "Property 'Colour' is not a parameter of REST_CreateReservation (strict mode).",
            ),
            id="unknown property",
        ),
        pytest.param(
            CREATE,
            "valid",
            {"ApplicationElementId": None},
            400,
            (
                "RequiredParameterMissing",
                "The ApplicationElementId header is required (strict mode); REST_CreateReservation expects 0167a94a-5dae-4efe-bf13-029a47728b97.",
            ),
            id="missing ApplicationElementId",
        ),
        pytest.param(
            CREATE,
            "valid",
            {"Content-Type": "text/plain"},
            415,
            (
                "UnsupportedMediaType",
                "Send the body with Content-Type: application/json (strict mode).",
            ),
            id="not sent as JSON",
        ),
        pytest.param(
            UPDATE,
            "end only",
            {},
            400,
            ("RequiredParameterMissing", "StartTime is required (strict mode)."),
            id="update without both times",
        ),
    ],
)
def test_strict_refusals(
    strict_server: Server,
    world: World,
    workflow: str,
    body: str,
    headers: dict[str, Any],
    status: int,
    expected: tuple[str, str],
) -> None:
    space = world.space()
    bodies = {
        "valid": create_body(space.id, "2030-02-10 10:00:00", "2030-02-10 11:00:00"),
        "casing": {
            **{
                k: v
                for k, v in create_body(
                    space.id, "2030-02-10 10:00:00", "2030-02-10 11:00:00"
                ).items()
                if k != "SpaceId"
            },
            "spaceid": space.id,
        },
        "unknown": {
            **create_body(space.id, "2030-02-10 10:00:00", "2030-02-10 11:00:00"),
            "Colour": "red",
        },
        "end only": {"UltimoId": "00000006710", "EndTime": "2030-02-10 11:00:00"},
    }
    before = stored_count(world)
    sent_headers = {k: v for k, v in headers.items() if v is not None}
    if headers.get("ApplicationElementId", "") is None:
        response = strict_server.call(workflow, bodies[body], element_id=False)
    elif sent_headers:
        import orjson

        response = strict_server.call(workflow, orjson.dumps(bodies[body]), headers=sent_headers)
    else:
        response = strict_server.call(workflow, bodies[body])
    assert (response.status_code, response.json()) == (status, error(*expected))
    assert stored_count(world) == before


# ---- the error catalogue ---------------------------------------------------------------


def test_missing_parameter(server: Server, world: World) -> None:
    space = world.space()
    body = create_body(space.id, "2030-02-11 10:00:00", "2030-02-11 11:00:00")
    del body["EndTime"]
    response = server.call(CREATE, body)
    assert (response.status_code, response.json()) == (
        400,
        error("RequiredParameterMissing", "EndTime is required."),
    )


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        pytest.param(
            "SpaceId",
            "",
            ("RequiredParameterMissing", "SpaceId must not be empty."),
            id="empty SpaceId",
        ),
        pytest.param(
            "ApplicantId",
            "   ",
            ("RequiredParameterMissing", "ApplicantId must not be empty."),
            id="blank ApplicantId",
        ),
        pytest.param(
            "StartTime",
            None,
            ("RequiredParameterMissing", "StartTime is required."),
            id="null StartTime",
        ),
        pytest.param(
            "SpaceId",
            25,
            ("InvalidParameter", "SpaceId must be a string, not a number."),
            id="number",
        ),
        pytest.param(
            "Description",
            True,
            ("InvalidParameter", "Description must be a string, not a boolean."),
            id="boolean",
        ),
        pytest.param(
            "ExternalId",
            ["a"],
            ("InvalidParameter", "ExternalId must be a string, not an array."),
            id="array",
        ),
        pytest.param(
            "Description",
            {"a": 1},
            ("InvalidParameter", "Description must be a string, not an object."),
            id="object",
        ),
        pytest.param(
            "Description",
            "x" * 2001,
            ("InvalidParameter", "Description is 2001 characters long; at most 2000 are allowed."),
            id="huge string",
        ),
        pytest.param(
            "ExternalId",
            "a\x00b",
            ("InvalidParameter", "ExternalId must not contain control characters."),
            id="NUL",
        ),
        pytest.param(
            "Description",
            "bell\x07",
            ("InvalidParameter", "Description must not contain control characters."),
            id="control character",
        ),
        pytest.param(
            "StartTime",
            "2021-02-30 10:00:00",
            (
                "InvalidDateTime",
                "StartTime '2021-02-30 10:00:00' is not a real calendar date and time.",
            ),
            id="Feb 30",
        ),
        pytest.param(
            "EndTime",
            "2030-02-12 09:00:00",
            ("InvalidTimeSpan", "EndTime must be after StartTime."),
            id="end before start",
        ),
        pytest.param(
            "SpaceId",
            "NOPE",
            ("UnknownSpace", "SpaceId 'NOPE' is not a known space."),
            id="unknown space",
        ),
        pytest.param(
            "ApplicantId",
            "NOBODY",
            ("UnknownApplicant", "ApplicantId 'NOBODY' is not a known person."),
            id="unknown applicant",
        ),
    ],
)
def test_invalid_create_parameters(
    server: Server, world: World, field: str, value: Any, expected: tuple[str, str]
) -> None:
    space = world.space()
    body: dict[str, Any] = create_body(space.id, "2030-02-12 10:00:00", "2030-02-12 11:00:00")
    body[field] = value
    before = stored_count(world)
    response = server.call(CREATE, body)
    assert (response.status_code, response.json()) == (400, error(*expected))
    assert stored_count(world) == before


def test_description_may_hold_line_breaks(server: Server, world: World) -> None:
    space = world.space()
    created_id(
        server.call(
            CREATE,
            create_body(
                space.id,
                "2030-02-13 10:00:00",
                "2030-02-13 11:00:00",
                Description="Line 1\r\nLine 2\tTab",
            ),
        )
    )


def test_space_not_bookable(server: Server, world: World) -> None:
    space = world.space(bookable=False)
    response = server.call(
        CREATE, create_body(space.id, "2030-02-14 10:00:00", "2030-02-14 11:00:00")
    )
    assert (response.status_code, response.json()) == (
        400,
        error("SpaceNotBookable", f"Space {space.id!r} is not bookable."),
    )


@pytest.mark.parametrize(
    ("workflow", "body", "expected"),
    [
        pytest.param(
            UPDATE,
            {"UltimoId": "99999999999", "EndTime": "2030-02-15 11:00:00"},
            ("UnknownReservation", "UltimoId 99999999999 is not a known reservation."),
            id="update unknown",
        ),
        pytest.param(
            CANCEL,
            {"UltimoId": "99999999998"},
            ("UnknownReservation", "UltimoId 99999999998 is not a known reservation."),
            id="cancel unknown",
        ),
        pytest.param(
            CANCEL,
            {"UltimoId": "12a"},
            (
                "InvalidParameter",
                "UltimoId '12a' is not valid; it is up to 11 digits, e.g. '00000006712'.",
            ),
            id="not digits",
        ),
        pytest.param(
            CANCEL,
            {"UltimoId": "123456789012"},
            (
                "InvalidParameter",
                "UltimoId '123456789012' is not valid; it is up to 11 digits, e.g. '00000006712'.",
            ),
            id="12 digits",
        ),
        pytest.param(
            UPDATE,
            {"UltimoId": "00000006710"},
            ("RequiredParameterMissing", "StartTime or EndTime (or both) is required."),
            id="update without times",
        ),
        pytest.param(
            GET,
            {"SpaceId": "NOPE", "From": "2030-02-15 00:00:00", "Till": "2030-02-16 00:00:00"},
            ("UnknownSpace", "SpaceId 'NOPE' is not a known space."),
            id="get unknown space",
        ),
        pytest.param(
            GET,
            {"SpaceId": "C-25", "From": "2030-02-15", "Till": "2030-02-16 00:00:00"},
            (
                "InvalidDateTime",
                "From '2030-02-15' is not a valid date and time; use yyyy-MM-dd HH:mm:ss (wall-clock time in the space's time zone), yyyy-MM-ddTHH:mm:ssZ (UTC), or ISO 8601 with a T, optional fractional seconds and an optional offset such as +02:00.",
            ),
            id="get bad From",
        ),
        pytest.param(
            CREATE,
            {"SpaceId": "C-25", "spaceid": "C-25"},
            ("DuplicateParameter", "SpaceId is given twice, as 'SpaceId' and 'spaceid'."),
            id="duplicate by casing",
        ),
        pytest.param(
            CREATE,
            {"Applicant": "ULTIMO", "ApplicantId": "ULTIMO"},
            ("DuplicateParameter", "ApplicantId is given twice, as 'Applicant' and 'ApplicantId'."),
            id="alias and name",
        ),
    ],
)
def test_other_refusals(
    server: Server, world: World, workflow: str, body: dict[str, Any], expected: tuple[str, str]
) -> None:
    before = stored_count(world)
    response = server.call(workflow, body)
    assert (response.status_code, response.json()) == (400, error(*expected))
    assert stored_count(world) == before


def test_wrong_application_element_id(server: Server, world: World) -> None:
    space = world.space()
    response = server.call(
        CREATE,
        create_body(space.id, "2030-02-16 10:00:00", "2030-02-16 11:00:00"),
        element_id=False,
        headers={"ApplicationElementId": ELEMENT_IDS[GET]},
    )
    assert (response.status_code, response.json()) == (
        400,
        error(
            "InvalidApplicationElementId",
            "ApplicationElementId '860ea091-4d76-47d9-a733-c3bb18440dde' does not belong to "
            "REST_CreateReservation; expected 0167a94a-5dae-4efe-bf13-029a47728b97.",
        ),
    )


def test_workflow_not_allowed_for_key(server: Server, world: World) -> None:
    reader = world.key(workflows=[GET])
    response = server.call(CANCEL, {"UltimoId": "00000006710"}, key=reader)
    assert (response.status_code, response.json()) == (
        403,
        error("WorkflowNotAllowed", "This API key may not call REST_CancelReservation."),
    )
    allowed = server.call(
        GET,
        {"SpaceId": "C-25", "From": "2030-02-16 00:00:00", "Till": "2030-02-17 00:00:00"},
        key=reader,
    )
    assert allowed.status_code == 200


def test_unknown_workflow_and_other_methods(server: Server) -> None:
    unknown = server.call("REST_DeleteEverything", {})
    assert (unknown.status_code, unknown.json()) == (
        404,
        error(
            "UnknownWorkflow",
            "There is no workflow 'REST_DeleteEverything'; roomline serves REST_CreateReservation, "
            "REST_UpdateReservation, REST_CancelReservation, REST_GetReservationsForSpace.",
        ),
    )
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        response = server.client.request(method, "/api/V1/Action/REST_CreateReservation")
        assert (response.status_code, response.json()) == (
            405,
            error("MethodNotAllowed", "This path accepts only POST."),
        )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            b"", ("InvalidBody", "The request body is empty; send a JSON object."), id="empty"
        ),
        pytest.param(
            b"SpaceId=C-25",
            ("InvalidBody", "The request body is not valid UTF-8 JSON: unexpected character."),
            id="form data",
        ),
        pytest.param(
            b"[1, 2]",
            ("InvalidBody", "The request body must be a JSON object, not an array."),
            id="array",
        ),
        pytest.param(
            b"null", ("InvalidBody", "The request body must be a JSON object, not null."), id="null"
        ),
        pytest.param(
            b'"text"',
            ("InvalidBody", "The request body must be a JSON object, not a string."),
            id="string",
        ),
        pytest.param(
            b'{"SpaceId": "\xff"}',
            (
                "InvalidBody",
                "The request body is not valid UTF-8 JSON: str is not valid UTF-8: surrogates not allowed.",
            ),
            id="invalid UTF-8",
        ),
        pytest.param(
            b"[" * 5000 + b"]" * 5000,
            ("InvalidBody", "The request body is not valid UTF-8 JSON: recursion limit exceeded."),
            id="deeply nested",
        ),
        pytest.param(
            b'{"SpaceId": NaN}',
            ("InvalidBody", "The request body is not valid UTF-8 JSON: unexpected character."),
            id="NaN",
        ),
    ],
)
def test_malformed_bodies(
    server: Server, world: World, raw: bytes, expected: tuple[str, str]
) -> None:
    before = stored_count(world)
    response = server.call(CREATE, raw)
    assert response.status_code == 400
    assert response.json()["code"] == expected[0]
    assert response.json()["message"].startswith(expected[1].split(":")[0])
    assert stored_count(world) == before


def test_payload_too_large(server: Server, world: World) -> None:
    before = stored_count(world)
    response = server.call(CREATE, b'{"Description": "' + b"x" * 1_100_000 + b'"}')
    assert (response.status_code, response.json()) == (
        413,
        error("PayloadTooLarge", "The request body is larger than 1000000 bytes."),
    )
    assert stored_count(world) == before


def test_sql_looking_strings_are_just_text(server: Server, world: World) -> None:
    space = world.space()
    sneaky = "x'); DROP TABLE reservations; --"
    created_id(
        server.call(
            CREATE,
            create_body(space.id, "2030-02-17 10:00:00", "2030-02-17 11:00:00", Description=sneaky),
        )
    )
    response = server.call(
        GET, {"SpaceId": space.id, "From": "2030-02-17 00:00:00", "Till": "2030-02-18 00:00:00"}
    )
    assert response.json()["properties"]["Output"]["collection"][0]["Description"] == sneaky
    unknown = server.call(
        GET,
        {"SpaceId": "' OR '1'='1", "From": "2030-02-17 00:00:00", "Till": "2030-02-18 00:00:00"},
    )
    assert unknown.json()["code"] == "UnknownSpace"
