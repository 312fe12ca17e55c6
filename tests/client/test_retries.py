"""Retries: counted against tiny real HTTP servers, and against roomline behind one.

Waits go through the client's ``sleep`` hook, which records them instead of sleeping, so
the tests check the delays the client chose without taking that long.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from roomline.client import (
    NO_RETRY,
    AsyncUltimoClient,
    ConnectionFailed,
    InvalidResponse,
    RateLimited,
    RetryPolicy,
    UltimoClient,
    UltimoError,
)
from tests.client.scripted import FORWARD, Answer, scripted
from tests.conftest import World
from tests.support import DEMO_KEY, Server, free_port

GET_ANSWER = {"properties": {"Output": {"collection": []}}}
CREATED = {"Properties": {"UltimoId": "00000000042"}}
TOO_MANY = {"message": "Too many requests.", "type": "3", "code": "TooManyRequests"}
WINDOW = ("C-25", "2030-01-08 00:00:00", "2030-01-09 00:00:00")
STEADY = RetryPolicy(attempts=3, backoff=0.5, jitter=False)


def client_for(base_url: str, waits: list[float], retry: RetryPolicy = STEADY) -> UltimoClient:
    return UltimoClient(base_url, DEMO_KEY, retry=retry, sleep=waits.append)


def create(client: UltimoClient, external_id: str = "") -> str:
    return client.create_reservation(
        space_id="C-25",
        start="2030-01-08 09:00:00",
        end="2030-01-08 10:00:00",
        applicant_id="ULTIMO",
        external_id=external_id,
    )


def test_429_then_success_honours_retry_after() -> None:
    waits: list[float] = []
    throttled = Answer(429, TOO_MANY, {"Retry-After": "2"})
    with (
        scripted(throttled, Answer(200, GET_ANSWER)) as fake,
        client_for(fake.base_url, waits) as client,
    ):
        assert client.get_reservations(*WINDOW) == []
    assert len(fake.requests) == 2
    assert waits == [2.0]
    first = fake.requests[0]
    assert first.path == "/api/V1/Action/REST_GetReservationsForSpace"
    assert first.headers["ApiKey"] == DEMO_KEY
    assert first.headers["ApplicationElementId"] == "860ea091-4d76-47d9-a733-c3bb18440dde"
    assert first.body == {"SpaceId": "C-25", "From": WINDOW[1], "Till": WINDOW[2]}
    assert fake.requests[1].body == first.body


def test_rate_limited_after_the_last_attempt_carries_the_delay() -> None:
    waits: list[float] = []
    with (
        scripted(Answer(429, TOO_MANY, {"Retry-After": "3"})) as fake,
        client_for(fake.base_url, waits) as client,
        pytest.raises(RateLimited) as limited,
    ):
        client.cancel_reservation("00000006712")
    assert len(fake.requests) == 3
    assert waits == [3.0, 3.0]
    error = limited.value
    assert isinstance(error, UltimoError)
    assert (error.code, error.message, error.status_code, error.retry_after) == (
        "TooManyRequests",
        "Too many requests.",
        429,
        3.0,
    )


def test_a_retry_after_beyond_max_delay_is_not_waited_out() -> None:
    waits: list[float] = []
    with (
        scripted(Answer(429, TOO_MANY, {"Retry-After": "3600"})) as fake,
        client_for(fake.base_url, waits) as client,
        pytest.raises(RateLimited) as limited,
    ):
        client.get_reservations(*WINDOW)
    assert (len(fake.requests), waits, limited.value.retry_after) == (1, [], 3600.0)


def test_an_http_date_retry_after_is_read() -> None:
    waits: list[float] = []
    past = "Wed, 21 Oct 2015 07:28:00 GMT"  # already passed: retry at once
    answers = (Answer(503, None, {"Retry-After": past}), Answer(200, GET_ANSWER))
    with scripted(*answers) as fake, client_for(fake.base_url, waits) as client:
        assert client.get_reservations(*WINDOW) == []
    assert waits == [0.0]


@pytest.mark.parametrize("status", [502, 503, 504])
def test_transient_statuses_back_off_exponentially(status: int) -> None:
    waits: list[float] = []
    with (
        scripted(Answer(status, "<html>gateway</html>")) as fake,
        client_for(fake.base_url, waits) as client,
        pytest.raises(UltimoError) as failed,
    ):
        client.get_reservations(*WINDOW)
    assert len(fake.requests) == 3
    assert waits == [0.5, 1.0]
    assert type(failed.value) is UltimoError
    assert (failed.value.code, failed.value.status_code) == (f"HTTP{status}", status)
    assert failed.value.message == "<html>gateway</html>"


def test_jitter_keeps_waits_within_the_backoff() -> None:
    waits: list[float] = []
    policy = RetryPolicy(attempts=4, backoff=1.0, max_delay=3.0)
    with (
        scripted(Answer(503)) as fake,
        client_for(fake.base_url, waits, policy) as client,
        pytest.raises(UltimoError),
    ):
        client.get_reservations(*WINDOW)
    assert len(waits) == 3
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0 and 1.5 <= waits[2] <= 3.0


@pytest.mark.parametrize(
    ("call", "tries"),
    [
        pytest.param(lambda c: create(c), 1, id="create without ExternalId: not retried"),
        pytest.param(lambda c: create(c, "E-1"), 3, id="create with ExternalId: retried"),
        pytest.param(
            lambda c: c.update_reservation("1", end="2030-01-08 11:00:00"),
            1,
            id="update: not retried",
        ),
        pytest.param(lambda c: c.cancel_reservation("1"), 3, id="cancel: retried"),
        pytest.param(lambda c: c.get_reservations(*WINDOW), 3, id="get: retried"),
    ],
)
def test_only_idempotent_requests_are_retried(call: Any, tries: int) -> None:
    waits: list[float] = []
    with (
        scripted(Answer(503)) as fake,
        client_for(fake.base_url, waits) as client,
        pytest.raises(UltimoError) as failed,
    ):
        call(client)
    assert failed.value.status_code == 503
    assert (len(fake.requests), len(waits)) == (tries, tries - 1)


def test_retry_writes_opts_in_for_every_request() -> None:
    waits: list[float] = []
    policy = RetryPolicy(attempts=2, backoff=0.1, jitter=False, retry_writes=True)
    with (
        scripted(Answer(503), Answer(200, CREATED)) as fake,
        client_for(fake.base_url, waits, policy) as client,
    ):
        assert create(client) == "00000000042"
    assert (len(fake.requests), waits) == (2, [0.1])


def test_no_retry_policy() -> None:
    waits: list[float] = []
    with (
        scripted(Answer(429, TOO_MANY, {"Retry-After": "1"})) as fake,
        client_for(fake.base_url, waits, NO_RETRY) as client,
        pytest.raises(RateLimited),
    ):
        client.get_reservations(*WINDOW)
    assert (len(fake.requests), waits) == (1, [])


def test_refused_connections_are_retried_then_reported() -> None:
    waits: list[float] = []
    nobody = f"http://127.0.0.1:{free_port()}"
    with client_for(nobody, waits) as client, pytest.raises(ConnectionFailed) as failed:
        client.get_reservations(*WINDOW)
    assert waits == [0.5, 1.0]
    assert isinstance(failed.value, UltimoError)
    assert failed.value.code == "ConnectionFailed"
    assert failed.value.message.startswith("ConnectError: ")
    assert failed.value.status_code is None

    waits.clear()
    with client_for(nobody, waits) as client, pytest.raises(ConnectionFailed):
        create(client)
    assert waits == []


def test_async_client_retries_the_same_way() -> None:
    waits: list[float] = []

    async def record(delay: float) -> None:
        waits.append(delay)

    async def run(base_url: str) -> list[Any]:
        async with AsyncUltimoClient(base_url, DEMO_KEY, retry=STEADY, sleep=record) as client:
            return await client.get_reservations(*WINDOW)

    throttled = Answer(429, TOO_MANY, {"Retry-After": "1"})
    with scripted(throttled, Answer(502), Answer(200, GET_ANSWER)) as fake:
        assert asyncio.run(run(fake.base_url)) == []
    assert (len(fake.requests), waits) == (3, [1.0, 1.0])


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("not json", id="not json"),
        pytest.param({"properties": {}}, id="no Output"),
        pytest.param(
            {"properties": {"Output": {"collection": [{"UltimoId": "1"}]}}},
            id="item fields missing",
        ),
        pytest.param(
            {
                "properties": {
                    "Output": {
                        "collection": [
                            {
                                "UltimoId": "1",
                                "Description": "",
                                "ApplicantId": "A",
                                "ApplicantName": "",
                                "StartTime": "2030-01-08T09:00:00",
                                "EndTime": "2030-01-08T10:00:00",
                                "StartTimeIncludingPreparationTime": "2030-01-08T09:00:00",
                                "EndTimeIncludingCleanupTime": "2030-01-08T10:00:00",
                                "Status": "Processed",
                            }
                        ]
                    }
                }
            },
            id="times without offset",
        ),
    ],
)
def test_an_unexpected_success_body_is_invalid_response(body: Any) -> None:
    with (
        scripted(Answer(200, body)) as fake,
        client_for(fake.base_url, []) as client,
        pytest.raises(InvalidResponse) as invalid,
    ):
        client.get_reservations(*WINDOW)
    assert (invalid.value.code, invalid.value.status_code) == ("InvalidResponse", 200)
    assert len(fake.requests) == 1


def test_dotnet_times_with_seven_fraction_digits_are_read() -> None:
    item = {
        "UltimoId": "00000000001",
        "Description": "Stand-up",
        "ApplicantId": "A",
        "ApplicantName": "Doe, J.",
        "StartTime": "2030-01-08T09:00:00.1234567+01:00",
        "EndTime": "2030-01-08T08:30:00Z",
        "StartTimeIncludingPreparationTime": "2030-01-08T09:00:00-03:30",
        "EndTimeIncludingCleanupTime": "2030-01-08 10:00:00+0100",
        "Status": "Processed",
    }
    answer = Answer(200, {"Properties": {"output": {"Collection": [item]}}})
    with scripted(answer) as fake, client_for(fake.base_url, []) as client:
        [found] = client.get_reservations(*WINDOW)
    assert found.start.isoformat() == "2030-01-08T09:00:00.123456+01:00"
    assert found.end.isoformat() == "2030-01-08T08:30:00+00:00"
    assert found.start_including_preparation.isoformat() == "2030-01-08T09:00:00-03:30"
    assert found.end_including_cleanup.isoformat() == "2030-01-08T10:00:00+01:00"


def test_against_roomline_a_retried_create_with_external_id_books_once(
    server: Server, world: World
) -> None:
    """A gateway times out after roomline booked: the retry gets the same UltimoId."""
    space, person = world.space(), world.person()
    booking = {
        "space_id": space.id,
        "start": "2030-01-11 09:00:00",
        "end": "2030-01-11 10:00:00",
        "applicant_id": person.id,
    }
    lost = Answer(504, "Gateway Timeout", forward_first=True)
    waits: list[float] = []
    with (
        scripted(lost, FORWARD, upstream=server.base_url) as proxy,
        client_for(proxy.base_url, waits) as client,
    ):
        ultimo_id = create_from(client, booking, external_id=f"once-{space.id}")
        assert len(proxy.requests) == 2 and waits == [0.5]
    with UltimoClient(server.base_url, DEMO_KEY) as direct:
        found = direct.get_reservations(space.id, "2030-01-11 00:00:00", "2030-01-12 00:00:00")
    assert [r.ultimo_id for r in found] == [ultimo_id]


def test_against_roomline_a_create_without_external_id_is_not_repeated(
    server: Server, world: World
) -> None:
    """Without an ExternalId a retry could book twice, so the client reports the failure."""
    space, person = world.space(), world.person()
    booking = {
        "space_id": space.id,
        "start": "2030-01-11 09:00:00",
        "end": "2030-01-11 10:00:00",
        "applicant_id": person.id,
    }
    lost = Answer(504, "Gateway Timeout", forward_first=True)
    with (
        scripted(lost, FORWARD, upstream=server.base_url) as proxy,
        client_for(proxy.base_url, []) as client,
        pytest.raises(UltimoError) as failed,
    ):
        create_from(client, booking, external_id="")
    assert (failed.value.status_code, len(proxy.requests)) == (504, 1)
    with UltimoClient(server.base_url, DEMO_KEY) as direct:
        found = direct.get_reservations(space.id, "2030-01-11 00:00:00", "2030-01-12 00:00:00")
    assert len(found) == 1  # booked once, by the request whose answer was lost


def test_against_roomline_throttling_then_roomlines_own_answer(server: Server) -> None:
    waits: list[float] = []
    throttled = Answer(429, TOO_MANY, {"Retry-After": "1"})
    with (
        scripted(throttled, FORWARD, upstream=server.base_url) as proxy,
        client_for(proxy.base_url, waits) as client,
    ):
        found = client.get_reservations("C-25", "2021-04-20 00:00:00", "2021-04-21 00:00:00")
    assert [r.ultimo_id for r in found] == ["00000006710"]
    assert (len(proxy.requests), waits) == (2, [1.0])


def create_from(client: UltimoClient, booking: dict[str, str], external_id: str) -> str:
    return client.create_reservation(**booking, external_id=external_id)
