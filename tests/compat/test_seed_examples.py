"""The documentation's examples, verbatim, against ``roomline demo`` (SPEC §5).

Create, get, update, cancel, in that order, with the exact documented bodies, on a demo
server whose clock is pinned in June 2021.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import Server, start_server

CREATE = {
    "ExternalId": "DEMO01",
    "Description": "Team meeting Front office",
    "SpaceId": "C-25",
    "StartTime": "2021-06-14 12:00:00",
    "EndTime": "2021-06-14 13:00:00",
    "Applicant": "ULTIMO",
}
GET = {"From": "2021-06-13 12:00:00", "Till": "2021-06-14 13:00:00", "SpaceId": "C-25"}
UPDATE = {
    "UltimoId": "00000006712",
    "StartTime": "2021-06-14 12:00:00",
    "EndTime": "2021-06-14 13:00:00",
}
CANCEL = {"UltimoId": "00000006712"}

DOCUMENTED_ITEM_6710 = {
    "UltimoId": "00000006710",
    "Description": "Team meeting Front office",
    "ApplicantId": "ULTIMO",
    "ApplicantName": "Fasse, J.",
    "StartTime": "2021-04-20T08:00:00.000000+12:00",
    "EndTime": "2021-04-20T09:00:00.000000+12:00",
    "StartTimeIncludingPreparationTime": "2021-04-20T08:00:00.000000+12:00",
    "EndTimeIncludingCleanupTime": "2021-04-20T09:00:00.000000+12:00",
    "Status": "Processed",
}
MISSING_KEY = {"message": "Missing API key", "code": "MissingApiKey"}


@pytest.fixture(scope="module")
def demo(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(
        module_database_url, tmp_path_factory.mktemp("logs"), "--now", "2021-06-13T09:00:00+12:00"
    )
    yield running
    running.stop()


def test_documented_examples_in_order(demo: Server) -> None:
    created = demo.call("REST_CreateReservation", CREATE)
    assert (created.status_code, created.json()) == (
        200,
        {"Properties": {"UltimoId": "00000006712"}},
    )

    listed = demo.call("REST_GetReservationsForSpace", GET)
    assert listed.status_code == 200
    assert listed.json() == {
        "properties": {
            "Output": {
                "collection": [
                    {
                        **DOCUMENTED_ITEM_6710,
                        "UltimoId": "00000006712",
                        "StartTime": "2021-06-14T12:00:00.000000+12:00",
                        "EndTime": "2021-06-14T13:00:00.000000+12:00",
                        "StartTimeIncludingPreparationTime": "2021-06-14T12:00:00.000000+12:00",
                        "EndTimeIncludingCleanupTime": "2021-06-14T13:00:00.000000+12:00",
                    }
                ]
            }
        }
    }

    updated = demo.call("REST_UpdateReservation", UPDATE)
    assert (updated.status_code, updated.json()) == (200, {"properties": {}})

    cancelled = demo.call("REST_CancelReservation", CANCEL)
    assert (cancelled.status_code, cancelled.json()) == (200, {"properties": {}})

    after = demo.call("REST_GetReservationsForSpace", GET)
    assert after.json() == {"properties": {"Output": {"collection": []}}}


def test_documented_get_response_for_its_reservation(demo: Server) -> None:
    # The documentation's Get answer shows reservation 6710 of 20 April; the demo holds it.
    window = {"From": "2021-04-20 00:00:00", "Till": "2021-04-21 00:00:00", "SpaceId": "C-25"}
    response = demo.call("REST_GetReservationsForSpace", window)
    assert response.status_code == 200
    assert response.json() == {"properties": {"Output": {"collection": [DOCUMENTED_ITEM_6710]}}}


def test_documented_conflict_message(demo: Server) -> None:
    first = demo.call("REST_CreateReservation", {**CREATE, "ExternalId": "CONFLICT-A"})
    assert first.status_code == 200
    second = demo.call("REST_CreateReservation", {**CREATE, "ExternalId": "CONFLICT-B"})
    assert second.status_code == 400
    assert second.json() == {
        "message": "Room reservation cannot be requested or processed.\r\nCause: Meeting room 2 is not available.",
        "type": "3",
        "code": "1015",
    }


def test_documented_past_message(demo: Server) -> None:
    response = demo.call("REST_CancelReservation", {"UltimoId": "00000006710"})
    assert response.status_code == 400
    assert response.json() == {
        "message": "Room reservation cannot be modified.\r\nCause: Room reservation is in the past.",
        "type": "3",
        "code": "1166",
    }


@pytest.mark.parametrize(
    ("workflow", "body"),
    [
        ("REST_CreateReservation", CREATE),
        ("REST_UpdateReservation", UPDATE),
        ("REST_CancelReservation", CANCEL),
        ("REST_GetReservationsForSpace", GET),
    ],
)
@pytest.mark.parametrize(
    "key", [None, "00000000000000000000000000000000"], ids=["absent", "unknown"]
)
def test_documented_invalid_key_answer(
    demo: Server, workflow: str, body: dict[str, str], key: str | None
) -> None:
    response = demo.call(workflow, body, key=key)
    assert (response.status_code, response.json()) == (401, MISSING_KEY)


def test_playground_space_has_a_current_reservation(demo: Server) -> None:
    # The playground says: get current reservations for space 003.0.10 to find an UltimoId.
    window = {"From": "2021-06-14 00:00:00", "Till": "2021-06-15 00:00:00", "SpaceId": "003.0.10"}
    response = demo.call("REST_GetReservationsForSpace", window)
    assert response.json()["properties"]["Output"]["collection"] == [
        {
            "UltimoId": "00000006711",
            "Description": "Weekly planning",
            "ApplicantId": "ULTIMO",
            "ApplicantName": "Fasse, J.",
            "StartTime": "2021-06-14T09:00:00.000000+02:00",
            "EndTime": "2021-06-14T10:00:00.000000+02:00",
            "StartTimeIncludingPreparationTime": "2021-06-14T08:45:00.000000+02:00",
            "EndTimeIncludingCleanupTime": "2021-06-14T10:15:00.000000+02:00",
            "Status": "Processed",
        }
    ]
