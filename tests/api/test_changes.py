"""The log of changes as integrations read it: ``/api/booking/changes`` (a page, a long
poll) and ``/api/booking/changes/stream`` (SSE), through the API, the client and the CLI,
on both databases."""

from __future__ import annotations

import asyncio
import json
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from roomline.client import AsyncUltimoClient, ChangeEvent, UltimoClient, UltimoError
from tests.conftest import World
from tests.support import DEMO_KEY, Server, roomline, start_server

HEADERS = {"ApiKey": DEMO_KEY}


def latest(server: Server) -> str:
    """The cursor after everything so far (an empty long poll of zero seconds)."""
    page = server.client.get("/api/booking/changes", params={"limit": 1000}, headers=HEADERS)
    assert page.status_code == 200, page.text
    body = page.json()
    while body["events"]:
        body = server.client.get(
            "/api/booking/changes", params={"after": body["next"], "limit": 1000}, headers=HEADERS
        ).json()
    return str(body["next"])


def create(server: Server, space: str, start: str, end: str, person: str) -> str:
    answer = server.call(
        "REST_CreateReservation",
        {
            "SpaceId": space,
            "ApplicantId": person,
            "StartTime": start,
            "EndTime": end,
            "Description": "Planning",
        },
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["Properties"]["UltimoId"])


def changes(server: Server, **params: Any) -> dict[str, Any]:
    answer = server.client.get("/api/booking/changes", params=params, headers=HEADERS)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_every_write_is_one_change_in_order_with_the_reservation_after_it(
    server: Server, world: World
) -> None:
    space = world.space(prep=15, cleanup=10).id
    person = world.person("Fasse, J.").id
    cursor = latest(server)
    ultimo_id = create(server, space, "2030-02-04 10:00:00", "2030-02-04 11:00:00", person)
    moved = server.call(
        "REST_UpdateReservation",
        {
            "UltimoId": ultimo_id,
            "StartTime": "2030-02-04 10:30:00",
            "EndTime": "2030-02-04 11:30:00",
        },
    )
    assert moved.status_code == 200, moved.text
    cancelled = server.call("REST_CancelReservation", {"UltimoId": ultimo_id})
    assert cancelled.status_code == 200, cancelled.text

    page = changes(server, after=cursor)
    assert [e["type"] for e in page["events"]] == [
        "reservation.created",
        "reservation.updated",
        "reservation.cancelled",
    ]
    cursors = [int(e["cursor"]) for e in page["events"]]
    assert cursors == sorted(cursors) and cursors[0] > int(cursor)
    assert page["next"] == page["events"][-1]["cursor"]
    created, updated, gone = page["events"]
    assert created["at"] == "2030-01-07T10:00:00+01:00"  # the server's clock, space's offset
    assert created["by"] == {"key_name": "demo", "via": "REST_CreateReservation"}
    assert created["reservation"] == {
        "ultimo_id": ultimo_id,
        "space_id": space,
        "applicant_id": person,
        "applicant_name": "Fasse, J.",
        "description": "Planning",
        "start": "2030-02-04T10:00:00+01:00",
        "end": "2030-02-04T11:00:00+01:00",
        "blocked_start": "2030-02-04T09:45:00+01:00",
        "blocked_end": "2030-02-04T11:10:00+01:00",
        "status": "Processed",
        "series_id": None,
    }
    assert updated["reservation"]["start"] == "2030-02-04T10:30:00+01:00"
    assert updated["reservation"]["blocked_end"] == "2030-02-04T11:40:00+01:00"
    assert gone["reservation"]["status"] == "Cancelled"
    assert gone["by"]["via"] == "REST_CancelReservation"
    # Nothing after the last one: the same cursor back.
    assert changes(server, after=page["next"]) == {"events": [], "next": page["next"]}


def test_a_refused_write_leaves_no_change(server: Server, world: World) -> None:
    space = world.space().id
    person = world.person().id
    create(server, space, "2030-02-05 10:00:00", "2030-02-05 11:00:00", person)
    cursor = latest(server)
    clash = server.call(
        "REST_CreateReservation",
        {
            "SpaceId": space,
            "ApplicantId": person,
            "StartTime": "2030-02-05 10:30:00",
            "EndTime": "2030-02-05 11:30:00",
        },
    )
    assert clash.json()["code"] == "1015"
    assert changes(server, after=cursor)["events"] == []


def test_series_and_space_filter(server: Server, world: World) -> None:
    mine, other = world.space().id, world.space().id
    person = world.person().id
    cursor = latest(server)
    create(server, other, "2030-02-06 10:00:00", "2030-02-06 11:00:00", person)
    series = server.client.post(
        "/api/booking/series",
        headers=HEADERS,
        json={
            "space_id": mine,
            "applicant_id": person,
            "start": "2030-02-06T10:00:00",
            "end": "2030-02-06T11:00:00",
            "rrule": "FREQ=DAILY;COUNT=3",
        },
    )
    assert series.status_code == 201, series.text
    create(server, other, "2030-02-07 10:00:00", "2030-02-07 11:00:00", person)
    everything = changes(server, after=cursor)["events"]
    assert [e["reservation"]["space_id"] for e in everything] == [other, mine, mine, mine, other]
    page = changes(server, after=cursor, space=mine)
    assert [e["reservation"]["start"][:10] for e in page["events"]] == [
        "2030-02-06",
        "2030-02-07",
        "2030-02-08",
    ]
    assert {e["reservation"]["series_id"] for e in page["events"]} == {series.json()["series_id"]}
    assert {e["by"]["via"] for e in page["events"]} == {"series"}
    # ``next`` passes the other space's later change too: it is not asked for again.
    assert page["next"] == everything[-1]["cursor"]
    # Pages of two.
    first = changes(server, after=cursor, space=mine, limit=2)
    assert len(first["events"]) == 2 and first["next"] == first["events"][-1]["cursor"]
    rest = changes(server, after=first["next"], space=mine, limit=2)
    assert [e["cursor"] for e in rest["events"]] == [page["events"][2]["cursor"]]


def test_a_long_poll_answers_when_a_change_of_its_space_arrives(
    server: Server, world: World
) -> None:
    space, other = world.space().id, world.space().id
    person = world.person().id
    cursor = latest(server)
    answers: list[httpx.Response] = []

    def poll() -> None:
        answers.append(
            server.client.get(
                "/api/booking/changes",
                params={"after": cursor, "wait": 30, "space": space},
                headers=HEADERS,
            )
        )

    waiting = threading.Thread(target=poll)
    waiting.start()
    time.sleep(0.5)
    assert waiting.is_alive()  # held: nothing has happened yet
    create(server, other, "2030-02-09 10:00:00", "2030-02-09 11:00:00", person)
    time.sleep(1.0)  # five turns of the change watch, each waking the poll
    assert waiting.is_alive()  # still held: that change is another space's
    ultimo_id = create(server, space, "2030-02-09 10:00:00", "2030-02-09 11:00:00", person)
    waiting.join(timeout=25)
    assert not waiting.is_alive()
    body = answers[0].json()
    assert [e["reservation"]["ultimo_id"] for e in body["events"]] == [ultimo_id]
    assert body["next"] == body["events"][0]["cursor"] == latest(server)
    # With nothing new, a short wait ends with no events and the same cursor.
    assert changes(server, after=body["next"], wait=0.3) == {"events": [], "next": body["next"]}


@pytest.mark.parametrize(
    ("params", "headers", "status", "code"),
    [
        pytest.param({"after": "abc"}, HEADERS, 400, "InvalidParameter", id="bad cursor"),
        pytest.param({"space": "NO-SUCH"}, HEADERS, 400, "UnknownSpace", id="unknown space"),
        pytest.param({"limit": "0"}, HEADERS, 400, "InvalidParameter", id="limit 0"),
        pytest.param({"wait": "31"}, HEADERS, 400, "InvalidParameter", id="wait too long"),
        pytest.param({}, {}, 401, "MissingApiKey", id="no key"),
    ],
)
def test_bad_requests_are_refused_clearly(
    server: Server, params: dict[str, str], headers: dict[str, str], status: int, code: str
) -> None:
    answer = server.client.get("/api/booking/changes", params=params, headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code


@pytest.mark.parametrize("wait", ["nan", "inf"])
def test_a_wait_that_is_not_a_finite_number_says_so(server: Server, wait: str) -> None:
    answer = server.client.get("/api/booking/changes", params={"wait": wait}, headers=HEADERS)
    assert answer.status_code == 400
    assert answer.json() == {
        "message": "query.wait: Input should be a finite number",
        "code": "InvalidParameter",
    }


def test_the_grant_changes_is_needed(server: Server, world: World) -> None:
    refused = world.key(workflows=["REST_GetReservationsForSpace", "find"])
    for path in ("/api/booking/changes", "/api/booking/changes/stream"):
        answer = server.client.get(path, headers={"ApiKey": refused})
        assert answer.status_code == 403
        assert answer.json() == {
            "message": "This API key may not call changes.",
            "code": "WorkflowNotAllowed",
        }
    granted = world.key(workflows=["changes"])
    assert server.client.get("/api/booking/changes", headers={"ApiKey": granted}).status_code == 200


def test_the_clients_read_pages_and_long_polls(server: Server, world: World) -> None:
    space = world.space().id
    person = world.person("Doe, A.").id
    cursor = latest(server)
    ultimo_id = create(server, space, "2030-02-10 10:00:00", "2030-02-10 11:00:00", person)
    with UltimoClient(server.base_url, DEMO_KEY) as client:
        page = client.get_changes(after=cursor, space_id=space)
        assert [(e.type, e.reservation.ultimo_id) for e in page.events] == [
            ("reservation.created", ultimo_id)
        ]
        assert page.events[0].reservation.applicant_name == "Doe, A."
        assert page.next == page.events[0].cursor
        with pytest.raises(UltimoError) as refused:
            client.get_changes(after="nonsense")
        assert refused.value.code == "InvalidParameter"

    async def long_poll() -> list[ChangeEvent]:
        async with AsyncUltimoClient(server.base_url, DEMO_KEY) as client:
            waiting = asyncio.create_task(client.get_changes(after=page.next, wait=20))
            await asyncio.sleep(0.3)
            await asyncio.to_thread(
                create, server, space, "2030-02-11 10:00:00", "2030-02-11 11:00:00", person
            )
            return (await waiting).events

    events = asyncio.run(long_poll())
    assert [e.reservation.start.isoformat() for e in events] == ["2030-02-11T10:00:00+01:00"]


def read_stream(
    base_url: str, key: str, into: list[ChangeEvent], *, count: int, last_event_id: str | None
) -> threading.Thread:
    """Read ``count`` changes from the stream with the client, in a thread."""

    def run() -> None:
        with UltimoClient(base_url, key) as client:
            for event in client.stream_changes(last_event_id=last_event_id):
                into.append(event)
                if len(into) == count:
                    return

    reader = threading.Thread(target=run, daemon=True)
    reader.start()
    return reader


def test_the_stream_sends_changes_live_and_resumes_after_last_event_id(
    server: Server, world: World
) -> None:
    space = world.space().id
    person = world.person().id
    start = latest(server)
    received: list[ChangeEvent] = []
    reader = read_stream(server.base_url, DEMO_KEY, received, count=2, last_event_id=start)
    first = create(server, space, "2030-02-12 10:00:00", "2030-02-12 11:00:00", person)
    second = create(server, space, "2030-02-13 10:00:00", "2030-02-13 11:00:00", person)
    reader.join(timeout=20)
    assert [e.reservation.ultimo_id for e in received] == [first, second]
    # Resuming after the first: exactly the second again, then live.
    resumed: list[ChangeEvent] = []
    reader = read_stream(
        server.base_url, DEMO_KEY, resumed, count=2, last_event_id=received[0].cursor
    )
    third = create(server, space, "2030-02-14 10:00:00", "2030-02-14 11:00:00", person)
    reader.join(timeout=20)
    assert [e.reservation.ultimo_id for e in resumed] == [second, third]


def test_the_stream_speaks_server_sent_events(server: Server, world: World) -> None:
    space = world.space().id
    person = world.person().id
    start = latest(server)
    ultimo_id = create(server, space, "2030-02-15 10:00:00", "2030-02-15 11:00:00", person)
    with server.client.stream(
        "GET", "/api/booking/changes/stream", headers={**HEADERS, "Last-Event-ID": start}
    ) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        lines: list[str] = []
        for line in answer.iter_lines():
            lines.append(line)
            if line == "" and any(x.startswith("data:") for x in lines):
                break
    cursor = str(int(start) + 1)
    assert lines[:2] == [f"id: {cursor}", "event: reservation.created"]
    assert ultimo_id in lines[2]
    # A cursor that is not one is refused before the stream starts.
    bad = server.client.get(
        "/api/booking/changes/stream", headers={**HEADERS, "Last-Event-ID": "x"}
    )
    assert bad.status_code == 400 and bad.json()["code"] == "InvalidParameter"
    # So is a space that does not exist, with a cursor or without (a panel set up for the
    # wrong room hears so, not silence).
    for resume in ({"Last-Event-ID": start}, {}):
        unknown = server.client.get(
            "/api/booking/changes/stream",
            params={"space": "NO-SUCH"},
            headers={**HEADERS, **resume},
        )
        assert unknown.status_code == 400 and unknown.json()["code"] == "UnknownSpace", resume


def test_the_cli_lists_and_follows(server: Server, world: World, tmp_path: Path) -> None:
    space = world.space().id
    person = world.person().id
    start = latest(server)
    ultimo_id = create(server, space, "2030-02-16 10:00:00", "2030-02-16 11:00:00", person)
    url = ("--database-url", server.database_url)
    listed = roomline("changes", "list", "--json", "--after", start, *url, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    body = json.loads(listed.stdout)
    assert [e["reservation"]["ultimo_id"] for e in body["events"]] == [ultimo_id]
    table = roomline("changes", "list", "--space", space, *url, cwd=tmp_path)
    assert ultimo_id in table.stdout and "reservation.created" in table.stdout
    bad = roomline("changes", "list", "--after", "x", *url, cwd=tmp_path)
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: --after 'x' is not a cursor")

    # From a cursor, so a slow start of the command cannot miss the change.
    before = latest(server)
    command = [sys.executable, "-m", "roomline", "changes", "follow", "--after", before]
    with subprocess.Popen(
        [*command, "--space", space, *url],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    ) as follower:
        try:
            later = create(server, space, "2030-02-17 10:00:00", "2030-02-17 11:00:00", person)
            assert follower.stdout is not None
            ready, _, _ = select.select([follower.stdout], [], [], 60)
            line = follower.stdout.readline() if ready else ""
        finally:
            follower.terminate()
    event = json.loads(line)
    assert (event["type"], event["reservation"]["ultimo_id"]) == ("reservation.created", later)


@pytest.fixture
def two_workers(
    database_url: str, tmp_path: Path, make_world: Any
) -> Iterator[tuple[Server, World]]:
    server = start_server(database_url, tmp_path, "--workers", "2", command="serve")
    yield server, make_world(database_url)
    server.stop()


def test_streams_on_two_workers_each_get_every_change(two_workers: tuple[Server, World]) -> None:
    server, world = two_workers
    key = world.key()
    space = world.space().id
    person = world.person().id
    start = latest_with(server, key)
    streams: list[list[ChangeEvent]] = [[] for _ in range(4)]
    readers = [
        read_stream(server.base_url, key, got, count=3, last_event_id=start) for got in streams
    ]
    made = []
    for day in (20, 21, 22):
        answer = httpx.post(  # a fresh connection each: both workers take writes
            f"{server.base_url}/api/V1/Action/REST_CreateReservation",
            headers={"ApiKey": key},
            json={
                "SpaceId": space,
                "ApplicantId": person,
                "StartTime": f"2031-02-{day} 10:00:00",
                "EndTime": f"2031-02-{day} 11:00:00",
            },
        )
        assert answer.status_code == 200, answer.text
        made.append(answer.json()["Properties"]["UltimoId"])
    for reader in readers:
        reader.join(timeout=30)
    for got in streams:
        assert [e.reservation.ultimo_id for e in got] == made
    # Resuming after the first on new connections (either worker): the other two, once.
    resumed: list[list[ChangeEvent]] = [[] for _ in range(4)]
    readers = [
        read_stream(server.base_url, key, got, count=2, last_event_id=streams[0][0].cursor)
        for got in resumed
    ]
    for reader in readers:
        reader.join(timeout=30)
    for got in resumed:
        assert [e.reservation.ultimo_id for e in got] == made[1:]


def latest_with(server: Server, key: str) -> str:
    answer = httpx.get(f"{server.base_url}/api/booking/changes", headers={"ApiKey": key})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["next"])


def test_old_changes_expire_from_the_feed_and_are_pruned_after_the_audit_keeps_them(
    database_url: str, tmp_path: Path, make_world: Any
) -> None:
    env = {"ROOMLINE_EVENT_RETENTION_DAYS": "2", "ROOMLINE_AUDIT_RETENTION_DAYS": "3"}
    server = start_server(database_url, tmp_path, "--now", "2030-01-07T09:00:00Z", env=env)
    try:
        world = make_world(database_url)
        space = world.space().id
        ultimo_id = create(server, space, "2030-03-01 10:00:00", "2030-03-01 11:00:00", "ULTIMO")
        assert [e["reservation"]["ultimo_id"] for e in changes(server)["events"]] == [ultimo_id]

        server.set_clock("2030-01-09T10:00:00Z")  # 2 days and an hour later
        expired = server.client.get("/api/booking/changes", params={"after": "0"}, headers=HEADERS)
        assert expired.status_code == 410
        assert expired.json() == {
            "message": "The changes after cursor 0 are no longer kept (the feed reaches back "
            "2 days); start again without a cursor.",
            "code": "CursorExpired",
        }
        fresh = changes(server)  # without a cursor: from the oldest it reaches, so nothing
        assert fresh["events"] == [] and int(fresh["next"]) >= 1
        # The audit trail still has it; the pruner waits for its 3 days.
        assert audit_count(server, tmp_path) == 1

        server.set_clock("2030-01-10T10:00:00Z")
        deadline = time.monotonic() + 30
        while audit_count(server, tmp_path) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert audit_count(server, tmp_path) == 0
        # A cursor from before the pruning now says so too, whatever the clock.
        server.set_clock("2030-01-07T09:00:00Z")
        assert (
            server.client.get(
                "/api/booking/changes", params={"after": "0"}, headers=HEADERS
            ).json()["code"]
            == "CursorExpired"
        )
    finally:
        server.stop()


def audit_count(server: Server, cwd: Path) -> int:
    listed = roomline("audit", "list", "--json", "--database-url", server.database_url, cwd=cwd)
    assert listed.returncode == 0, listed.stderr
    return len(json.loads(listed.stdout))
