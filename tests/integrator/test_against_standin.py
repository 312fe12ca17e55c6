"""An integrator's test suite, as a panel or calendar-bridge team would write it.

It uses only what installing roomline gives them: the ``ultimo_standin`` pytest fixture
and ``roomline.client``. The stand-in starts with Ultimo's playground data: space C-25
(Pacific/Auckland), applicant ULTIMO, the clock at 2021-06-13 10:00 in Auckland, and
00000006712 as the next UltimoId.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from roomline.client import (
    NO_RETRY,
    ConnectionFailed,
    ReservationInPast,
    RetryPolicy,
    UltimoClient,
    UltimoError,
    Unauthorized,
)
from roomline.testing import UltimoStandIn

CREATE = "REST_CreateReservation"
UPDATE = "REST_UpdateReservation"
GET = "REST_GetReservationsForSpace"
START, END = "2021-06-14 12:00:00", "2021-06-14 13:00:00"
QUICK_RETRIES = RetryPolicy(attempts=3, backoff=0.01, jitter=False)


def book(client: UltimoClient, external_id: str = "") -> str:
    return client.create_reservation(
        space_id="C-25",
        start=START,
        end=END,
        applicant_id="ULTIMO",
        description="Team meeting",
        external_id=external_id,
    )


def booked_ids(client: UltimoClient) -> list[str]:
    return [r.ultimo_id for r in client.get_reservations("C-25", START, END)]


def client_for(standin: UltimoStandIn, **options: object) -> UltimoClient:
    return UltimoClient(
        standin.base_url,
        standin.api_key,
        application_element_ids=standin.application_element_ids,
        **options,  # type: ignore[arg-type]
    )


# Each of these two tests books first and expects the playground's next number and
# clock: whichever runs second passes only if the stand-in was reset in between.
@pytest.mark.parametrize("advance", ["P2D", "PT1H"])
def test_every_test_starts_from_the_playground(ultimo_standin: UltimoStandIn, advance: str) -> None:
    assert ultimo_standin.clock.now() == datetime.fromisoformat("2021-06-13T10:00:00+12:00")
    assert booked_ids(ultimo_standin.client) == []
    assert book(ultimo_standin.client) == "00000006712"
    ultimo_standin.clock.advance(advance)
    ultimo_standin.faults.add(GET, status=500)  # left behind on purpose


def test_the_journal_shows_what_was_sent_and_answered(ultimo_standin: UltimoStandIn) -> None:
    ultimo_id = book(ultimo_standin.client, external_id="panel-7")
    booked_ids(ultimo_standin.client)

    [create] = ultimo_standin.requests(workflow=CREATE)
    assert create["method"] == "POST"
    assert create["path"] == f"/api/V1/Action/{CREATE}"
    assert create["headers"]["apikey"] == "****" + ultimo_standin.api_key[-4:]
    assert (
        create["headers"]["applicationelementid"]
        == (ultimo_standin.application_element_ids[CREATE])
    )
    assert create["body"] == {
        "ExternalId": "panel-7",
        "Description": "Team meeting",
        "SpaceId": "C-25",
        "StartTime": START,
        "EndTime": END,
        "ApplicantId": "ULTIMO",
    }
    assert (create["status"], create["response_body"]) == (
        200,
        {"Properties": {"UltimoId": ultimo_id}},
    )
    assert create["fault"] is None and create["duration_ms"] >= 0
    assert [entry["workflow"] for entry in ultimo_standin.requests()] == [CREATE, GET]
    assert [entry["workflow"] for entry in ultimo_standin.requests(limit=1)] == [GET]


def test_a_forced_429_is_retried_after_retry_after(ultimo_standin: UltimoStandIn) -> None:
    fault = ultimo_standin.faults.add(CREATE, status=429, retry_after=0, times=1)

    # Idempotent thanks to the ExternalId, so the client retries it.
    assert book(ultimo_standin.client, external_id="retry-me") == "00000006712"

    statuses = [entry["status"] for entry in ultimo_standin.requests(workflow=CREATE)]
    assert statuses == [429, 200]
    first = ultimo_standin.requests(workflow=CREATE)[0]
    assert first["response_headers"]["retry-after"] == "0"
    assert first["response_body"]["code"] == "TooManyRequests"
    assert first["fault"]["id"] == fault["id"]
    assert [f["fired"] for f in ultimo_standin.faults.all()] == [1]


def test_forced_503s_are_retried_until_the_attempts_run_out(ultimo_standin: UltimoStandIn) -> None:
    ultimo_standin.faults.add(GET, status=503, retry_after=0, times=2)
    with client_for(ultimo_standin, retry=QUICK_RETRIES) as client:
        assert booked_ids(client) == []  # third try answers
        ultimo_standin.faults.add(GET, status=503, retry_after=0)  # until removed
        with pytest.raises(UltimoError) as refused:
            booked_ids(client)
    assert (refused.value.status_code, refused.value.code) == (503, "ServiceUnavailable")
    assert [e["status"] for e in ultimo_standin.requests(workflow=GET)] == [503, 503, 200] + [
        503
    ] * 3


def test_a_faulted_write_changes_nothing(ultimo_standin: UltimoStandIn) -> None:
    ultimo_standin.faults.add(CREATE, status=500, times=1)
    with pytest.raises(UltimoError) as refused:
        book(ultimo_standin.client)  # no ExternalId: never retried
    assert (refused.value.status_code, refused.value.code) == (500, "InternalServerError")
    assert booked_ids(ultimo_standin.client) == []
    assert book(ultimo_standin.client) == "00000006712"  # the number was not used up


def test_a_fault_can_pick_requests_by_their_body(ultimo_standin: UltimoStandIn) -> None:
    ultimo_standin.faults.add(
        CREATE, status=400, body={"message": "no", "code": "X"}, match={"SpaceId": "003.0.10"}
    )
    assert book(ultimo_standin.client) == "00000006712"  # C-25: not matched
    with pytest.raises(UltimoError) as refused:
        ultimo_standin.client.create_reservation(
            space_id="003.0.10", start=START, end=END, applicant_id="ULTIMO"
        )
    assert (refused.value.code, refused.value.body) == ("X", {"message": "no", "code": "X"})


def test_a_forced_401_reads_as_a_missing_key(ultimo_standin: UltimoStandIn) -> None:
    ultimo_standin.faults.add("*", status=401, times=1)
    with pytest.raises(Unauthorized) as refused:
        booked_ids(ultimo_standin.client)
    assert refused.value.body == {"message": "Missing API key", "code": "MissingApiKey"}


def test_a_slow_answer_times_the_client_out(ultimo_standin: UltimoStandIn) -> None:
    ultimo_standin.faults.add(GET, delay_ms=1500, times=1)
    with client_for(ultimo_standin, timeout=0.3, retry=NO_RETRY) as impatient:
        with pytest.raises(ConnectionFailed):
            booked_ids(impatient)
        assert booked_ids(impatient) == []  # the fault fired once


def test_a_reset_cancels_a_request_still_held_by_a_delay(ultimo_standin: UltimoStandIn) -> None:
    ultimo_standin.faults.add(CREATE, delay_ms=1000, times=1)
    with (
        client_for(ultimo_standin, timeout=0.2, retry=NO_RETRY) as impatient,
        pytest.raises(ConnectionFailed),
    ):
        book(impatient)
    ultimo_standin.reset()  # as before the next test
    time.sleep(1.5)  # the held request's delay is over by now
    assert ultimo_standin.requests() == []
    assert book(ultimo_standin.client) == "00000006712"  # the held create never ran


def test_a_delay_alone_still_answers(ultimo_standin: UltimoStandIn) -> None:
    ultimo_standin.faults.add(CREATE, delay_ms=300, times=1)
    assert book(ultimo_standin.client) == "00000006712"
    [entry] = ultimo_standin.requests(workflow=CREATE)
    assert entry["status"] == 200 and entry["duration_ms"] >= 300


def test_a_dropped_connection_is_retried_or_reported(ultimo_standin: UltimoStandIn) -> None:
    ultimo_standin.faults.add(GET, drop=True, times=1)
    with client_for(ultimo_standin, retry=QUICK_RETRIES) as client:
        assert booked_ids(client) == []
    ultimo_standin.faults.add(GET, drop=True, times=1)
    with client_for(ultimo_standin, retry=NO_RETRY) as client, pytest.raises(ConnectionFailed):
        booked_ids(client)
    assert [e["status"] for e in ultimo_standin.requests(workflow=GET)] == [None, 200, None]


def test_moving_the_clock_puts_a_reservation_in_the_past(ultimo_standin: UltimoStandIn) -> None:
    ultimo_id = book(ultimo_standin.client)
    ultimo_standin.clock.advance(timedelta(days=1, hours=3))  # past 13:00 on the 14th
    with pytest.raises(ReservationInPast) as refused:
        ultimo_standin.client.update_reservation(ultimo_id, end="2021-06-14 14:00:00")
    assert refused.value.code == "1166"
    assert refused.value.message == (
        "Room reservation cannot be modified.\r\nCause: Room reservation is in the past."
    )


def test_the_clock_can_be_set(ultimo_standin: UltimoStandIn) -> None:
    moment = datetime.fromisoformat("2021-06-14T12:30:00+12:00")
    assert ultimo_standin.clock.set(moment) == moment
    assert ultimo_standin.clock.advance(90) == moment + timedelta(seconds=90)
