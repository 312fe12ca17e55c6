"""Calendar feeds end to end: ``/api/manage/feeds`` makes them, ``/feeds/{token}.ics``
answers RFC 5545 that ``icalendar`` parses and ``recurring_ical_events`` expands to
exactly the stored reservations of the window (30 days back, a year ahead, by the
server's clock), with SEQUENCE from the log of changes, ETags and 404s for dead tokens.
Both databases, through a real server.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest
import recurring_ical_events

from roomline.domain.reservations import Space
from tests.conftest import TEST_NOW, World
from tests.support import DEMO_KEY, Server

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NOW = datetime.fromisoformat(TEST_NOW)
WINDOW = (NOW - timedelta(days=30), NOW + timedelta(days=365))


def book(server: Server, space: Space, start: str, end: str, description: str = "Meeting") -> int:
    """Create a reservation through the Ultimo workflow (wall-clock in the space's zone)."""
    answer = server.call(
        "REST_CreateReservation",
        {
            "SpaceId": space.id,
            "StartTime": start,
            "EndTime": end,
            "ApplicantId": "ULTIMO",
            "Description": description,
        },
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["Properties"]["UltimoId"])


def move(server: Server, ultimo_id: int, start: str, end: str) -> None:
    answer = server.call(
        "REST_UpdateReservation",
        {"UltimoId": f"{ultimo_id:011d}", "StartTime": start, "EndTime": end},
    )
    assert answer.status_code == 200, answer.text


def cancel(server: Server, ultimo_id: int) -> None:
    answer = server.call("REST_CancelReservation", {"UltimoId": f"{ultimo_id:011d}"})
    assert answer.status_code == 200, answer.text


def new_feed(server: Server, **body: Any) -> dict[str, Any]:
    answer = server.admin("POST", "/api/manage/feeds", json=body)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def fetch(server: Server, feed: dict[str, Any], **headers: str) -> httpx.Response:
    return server.client.get(feed["path"], headers=headers)


def parsed(response: httpx.Response) -> icalendar.Calendar:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    body = response.content
    # RFC 5545 §3.1: every line ends with CRLF, none with a bare LF.
    assert body.endswith(b"\r\n")
    assert b"\n" not in body.replace(b"\r\n", b"")
    return icalendar.Calendar.from_ical(body)


def stored(server: Server, space: Space) -> dict[str, dict[str, Any]]:
    """The space's reservations in the feed's window as the management API lists them."""
    answer = server.admin(
        "GET",
        "/api/manage/reservations",
        params={
            "space": space.id,
            "from": WINDOW[0].strftime("%Y-%m-%dT%H:%M:%SZ"),
            "till": WINDOW[1].strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )
    assert answer.status_code == 200, answer.text
    return {item["ultimo_id"]: item for item in answer.json()["items"]}


def expanded(calendar: icalendar.Calendar) -> dict[str, Any]:
    """The calendar's events in the window, as a calendar app expands them, by UltimoId."""
    events = recurring_ical_events.of(calendar).between(*WINDOW)
    by_id = {str(event["UID"]).removesuffix("@roomline"): event for event in events}
    assert len(by_id) == len(events), "UIDs must be unique"
    return by_id


def test_a_space_feed_holds_exactly_the_stored_reservations_of_its_window(
    server: Server, world: World
) -> None:
    space = world.space(tz="Europe/Amsterdam", prep=10, cleanup=5)
    plain = book(server, space, "2030-01-08 10:00:00", "2030-01-08 11:00:00", "Stand-up")
    moved = book(server, space, "2030-01-09 10:00:00", "2030-01-09 11:00:00", "Planning")
    move(server, moved, "2030-01-09 14:00:00", "2030-01-09 15:30:00")
    cancelled = book(server, space, "2030-01-10 10:00:00", "2030-01-10 11:00:00", "Retro")
    cancel(server, cancelled)
    # Either side of the switch to summer time (31 March 2030, 02:00 → 03:00).
    before_switch = book(server, space, "2030-03-30 10:00:00", "2030-03-30 11:00:00")
    after_switch = book(server, space, "2030-03-31 10:00:00", "2030-03-31 11:00:00")
    series = server.client.post(
        "/api/booking/series",
        headers={"ApiKey": DEMO_KEY},
        json={
            "space_id": space.id,
            "applicant_id": "ULTIMO",
            "description": "Weekly review",
            "start": "2030-03-25T09:00:00",
            "end": "2030-03-25T10:00:00",
            "rrule": "FREQ=WEEKLY;COUNT=3",
        },
    )
    assert series.status_code == 201, series.text
    occurrences = [int(o["ultimo_id"]) for o in series.json()["occurrences"]]
    # Stored directly: one ended inside the window (no log entries), two outside it.
    past = world.reservation(
        space, datetime(2029, 12, 20, 9, tzinfo=UTC), datetime(2029, 12, 20, 10, tzinfo=UTC)
    )
    world.reservation(
        space, datetime(2029, 11, 1, 9, tzinfo=UTC), datetime(2029, 11, 1, 10, tzinfo=UTC)
    )
    world.reservation(
        space, datetime(2031, 2, 1, 9, tzinfo=UTC), datetime(2031, 2, 1, 10, tzinfo=UTC)
    )

    feed = new_feed(server, space_id=space.id)
    calendar = parsed(fetch(server, feed))

    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]).startswith("-//roomline//")
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Amsterdam"]
    vevents = calendar.walk("VEVENT")
    assert all("DTSTAMP" in event for event in vevents)
    assert all(event["DTSTART"].params["TZID"] == "Europe/Amsterdam" for event in vevents)

    events = expanded(calendar)
    expected = stored(server, space)
    assert set(events) == set(expected)
    assert set(expected) == {
        f"{n:011d}"
        for n in (plain, moved, cancelled, before_switch, after_switch, past, *occurrences)
    }
    for ultimo_id, item in expected.items():
        event = events[ultimo_id]
        assert event["DTSTART"].dt == datetime.fromisoformat(item["start"]), ultimo_id
        assert event["DTEND"].dt == datetime.fromisoformat(item["end"]), ultimo_id
        status = "CANCELLED" if item["status"] == "Cancelled" else "CONFIRMED"
        assert str(event["STATUS"]) == status, ultimo_id

    def sequence(ultimo_id: int) -> int:
        return int(events[f"{ultimo_id:011d}"]["SEQUENCE"])

    assert sequence(plain) == 0
    assert sequence(moved) == 1  # created, then moved
    assert sequence(cancelled) == 1  # created, then cancelled
    assert sequence(past) == 0  # stored without a log entry
    assert [sequence(n) for n in occurrences] == [0, 0, 0]
    assert str(events[f"{cancelled:011d}"]["SUMMARY"]) == "Cancelled: Retro"

    # Ten in the morning on both sides of the switch: 09:00 UTC, then 08:00 UTC.
    for ultimo_id, utc_hour in ((before_switch, 9), (after_switch, 8)):
        start = events[f"{ultimo_id:011d}"]["DTSTART"].dt
        assert (start.hour, start.astimezone(UTC).hour) == (10, utc_hour)
    weekly = [events[f"{n:011d}"]["DTSTART"].dt for n in occurrences]
    assert [(s.day, s.hour, s.astimezone(UTC).hour) for s in weekly] == [
        (25, 9, 8),
        (1, 9, 7),
        (8, 9, 7),
    ]
    moved_event = events[f"{moved:011d}"]
    assert str(moved_event["LOCATION"]) == f"{space.id} {space.description}"
    assert "Applicant: Fasse, J. (ULTIMO)" in str(moved_event["DESCRIPTION"])
    assert "10 min before for preparation" in str(moved_event["DESCRIPTION"])


def test_etag_answers_304_until_a_change_raises_the_sequence(server: Server, world: World) -> None:
    space = world.space()
    ultimo_id = book(server, space, "2030-02-04 09:00:00", "2030-02-04 10:00:00")
    feed = new_feed(server, space_id=space.id, name="reception")

    first, again = fetch(server, feed), fetch(server, feed)
    etag = first.headers["etag"]
    assert etag.startswith('"') and again.headers["etag"] == etag
    assert again.content == first.content  # nothing changed: byte for byte the same
    for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        unchanged = fetch(server, feed, **{"If-None-Match": sent})
        assert unchanged.status_code == 304, sent
        assert unchanged.content == b""
        assert unchanged.headers["etag"] == etag
    assert fetch(server, feed, **{"If-None-Match": '"other"'}).status_code == 200

    move(server, ultimo_id, "2030-02-04 11:00:00", "2030-02-04 12:00:00")
    changed = fetch(server, feed, **{"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    (event,) = parsed(changed).walk("VEVENT")
    assert int(event["SEQUENCE"]) == 1
    assert event["DTSTART"].dt == datetime(2030, 2, 4, 11, tzinfo=AMSTERDAM)


def test_head_answers_the_feeds_headers_without_its_body(server: Server, world: World) -> None:
    space = world.space()
    book(server, space, "2030-02-05 09:00:00", "2030-02-05 10:00:00")
    feed = new_feed(server, space_id=space.id)
    got = fetch(server, feed)
    head = server.client.head(feed["path"])
    assert head.status_code == 200
    assert head.content == b""
    for name in ("etag", "content-type", "content-length", "cache-control"):
        assert head.headers[name] == got.headers[name], name
    assert int(head.headers["content-length"]) == len(got.content)
    unchanged = server.client.head(feed["path"], headers={"If-None-Match": got.headers["etag"]})
    assert unchanged.status_code == 304
    assert server.client.head("/feeds/" + "x" * 43 + ".ics").status_code == 404


def test_revoked_and_unknown_tokens_answer_the_same_404(server: Server, world: World) -> None:
    space = world.space()
    feed = new_feed(server, space_id=space.id)
    assert fetch(server, feed).status_code == 200

    revoked = server.admin("DELETE", f"/api/manage/feeds/{feed['id']}")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    gone = fetch(server, feed)
    unknown = server.client.get("/feeds/" + "x" * 43 + ".ics")
    assert gone.status_code == unknown.status_code == 404
    assert gone.content == unknown.content
    assert gone.json() == {
        "message": "There is no calendar feed at this address; it may have been revoked.",
        "code": "RecordNotFound",
    }
    # Revoking again changes nothing; a feed that never was is 404.
    assert server.admin("DELETE", f"/api/manage/feeds/{feed['id']}").status_code == 200
    for number in ("999999", "0", str(2**64)):  # past what either database can hold too
        missing = server.admin("DELETE", f"/api/manage/feeds/{number}")
        assert missing.status_code == 404, number
        assert missing.json()["code"] == "RecordNotFound"


def test_an_applicant_feed_spans_their_spaces_each_in_its_zone(
    server: Server, world: World
) -> None:
    person = world.person("Bakker, M.")
    amsterdam, auckland = world.space(tz="Europe/Amsterdam"), world.space(tz="Pacific/Auckland")
    key = world.key()
    mine = []
    for space in (amsterdam, auckland):
        answer = server.call(
            "REST_CreateReservation",
            {
                "SpaceId": space.id,
                "StartTime": "2030-03-04 09:00:00",
                "EndTime": "2030-03-04 10:00:00",
                "ApplicantId": person.id,
                "Description": "Mine",
            },
            key=key,
        )
        assert answer.status_code == 200, answer.text
        mine.append(int(answer.json()["Properties"]["UltimoId"]))
    book(server, amsterdam, "2030-03-04 11:00:00", "2030-03-04 12:00:00", "Someone else's")

    calendar = parsed(fetch(server, new_feed(server, applicant_id=person.id)))
    assert str(calendar["X-WR-CALNAME"]) == "Bakker, M. (roomline)"
    zones = sorted(str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE"))
    assert zones == ["Europe/Amsterdam", "Pacific/Auckland"]
    events = expanded(calendar)
    assert set(events) == {f"{n:011d}" for n in mine}
    starts = {str(e["LOCATION"]).split()[0]: e["DTSTART"] for e in events.values()}
    assert starts[amsterdam.id].params["TZID"] == "Europe/Amsterdam"
    assert starts[auckland.id].params["TZID"] == "Pacific/Auckland"
    assert starts[auckland.id].dt == datetime(2030, 3, 4, 9, tzinfo=ZoneInfo("Pacific/Auckland"))


def test_the_window_follows_the_demo_clock(server: Server, world: World) -> None:
    space = world.space()
    soon = book(server, space, "2030-01-20 09:00:00", "2030-01-20 10:00:00")
    feed = new_feed(server, space_id=space.id)
    assert f"{soon:011d}@roomline" in fetch(server, feed).text
    try:
        # 31 days after it ended it has left the window; 29 days after it is still there.
        server.set_clock("2030-02-18T09:00:00Z")
        assert f"{soon:011d}@roomline" in fetch(server, feed).text
        server.set_clock("2030-02-20T09:00:00Z")
        assert f"{soon:011d}@roomline" not in fetch(server, feed).text
    finally:
        server.set_clock(TEST_NOW)


def test_the_management_api_lists_and_refuses_clearly(server: Server, world: World) -> None:
    space, person = world.space(), world.person()
    created = new_feed(server, space_id=space.id, name="lobby screen")
    assert created["url"] == server.base_url + created["path"]
    assert created["webcal_url"] == "webcal://" + created["url"].split("://", 1)[1]
    assert created["path"] == f"/feeds/{created['token']}.ics"
    other = new_feed(server, applicant_id=person.id)

    listed = server.admin("GET", "/api/manage/feeds").json()
    mine = [feed for feed in listed if feed["id"] in (created["id"], other["id"])]
    assert mine == [
        {
            "id": created["id"],
            "scope": "space",
            "space_id": space.id,
            "applicant_id": None,
            "name": "lobby screen",
            "status": "active",
            "created_at": created["created_at"],
            "revoked_at": None,
        },
        {
            "id": other["id"],
            "scope": "applicant",
            "space_id": None,
            "applicant_id": person.id,
            "name": "",
            "status": "active",
            "created_at": other["created_at"],
            "revoked_at": None,
        },
    ]
    assert all("token" not in feed for feed in listed)
    only = server.admin("GET", "/api/manage/feeds", params={"space": space.id}).json()
    assert [feed["id"] for feed in only] == [created["id"]]

    for body, status, code in (
        ({}, 400, "InvalidParameter"),
        ({"space_id": space.id, "applicant_id": person.id}, 400, "InvalidParameter"),
        ({"space_id": "NO-SUCH-SPACE"}, 400, "UnknownSpace"),
        ({"applicant_id": "NO-SUCH-PERSON"}, 400, "UnknownApplicant"),
    ):
        refused = server.admin("POST", "/api/manage/feeds", json=body)
        assert (refused.status_code, refused.json()["code"]) == (status, code), body
    assert server.admin("GET", "/api/manage/feeds").json() == listed  # nothing was made
    assert server.client.get("/api/manage/feeds").status_code == 401


@pytest.mark.parametrize("removed", ["space", "person"])
def test_removing_a_space_or_person_removes_its_feeds(
    server: Server, world: World, removed: str
) -> None:
    space, person = world.space(), world.person()
    body = {"space_id": space.id} if removed == "space" else {"applicant_id": person.id}
    feed = new_feed(server, **body)
    path = (
        f"/api/manage/spaces/{space.id}"
        if removed == "space"
        else f"/api/manage/people/{person.id}"
    )
    assert server.admin("DELETE", path).status_code == 204
    assert fetch(server, feed).status_code == 404
    assert feed["id"] not in [f["id"] for f in server.admin("GET", "/api/manage/feeds").json()]


def test_the_access_log_never_shows_a_feed_token(server: Server, world: World) -> None:
    feed = new_feed(server, space_id=world.space().id)
    assert fetch(server, feed).status_code == 200
    deadline = time.monotonic() + 10
    # The line is written once the answer has left.
    while '"path":"/feeds/***.ics","status":200' not in server.log():
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.1)
    assert feed["token"] not in server.log()
