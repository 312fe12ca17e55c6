"""At the door, end to end on a real server, on both databases: check-in windows, release
of no-shows by the background job (following the demo clock), ending early, extending
against neighbours, and what a panel's key may and may not do."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from roomline.domain.reservations import Space
from roomline.storage.tables import audit_log, reservations
from tests.conftest import TEST_NOW, World
from tests.support import DEMO_KEY, Server, start_server

HEADERS = {"ApiKey": DEMO_KEY}
NOW = datetime.fromisoformat(TEST_NOW.replace("Z", "+00:00"))  # 10:00 in Amsterdam
TAKEN = "Room reservation cannot be requested or processed.\r\nCause: {} is not available."
r = reservations.c
PANEL_GRANTS = ["REST_GetReservationsForSpace", "REST_CreateReservation", "checkin", "changes"]


@pytest.fixture(autouse=True)
def pinned_clock(server: Server) -> Any:
    """Every test starts, and leaves the server, at TEST_NOW."""
    server.set_clock(TEST_NOW)
    yield
    server.set_clock(TEST_NOW)


def door(server: Server, ultimo_id: int | str, action: str, key: str = DEMO_KEY, **body: Any):
    number = ultimo_id if isinstance(ultimo_id, str) else f"{ultimo_id:011d}"
    return server.client.post(
        f"/api/booking/reservations/{number}/{action}",
        headers={"ApiKey": key},
        json=body or None,
    )


def at(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stored(world: World, ultimo_id: int) -> Any:
    with world.database.read() as conn:
        return conn.execute(select(reservations).where(r.ultimo_id == ultimo_id)).one()


def actions(world: World, ultimo_id: int) -> list[str]:
    """The log's actions for one reservation, oldest first."""
    with world.database.read() as conn:
        return list(
            conn.execute(
                select(audit_log.c.action)
                .where(audit_log.c.ultimo_id == ultimo_id)
                .order_by(audit_log.c.id)
            ).scalars()
        )


def wait_for(condition: Any, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def check_in_space(world: World, **rules: Any) -> Space:
    return world.space(check_in_required=True, **rules)


# Check-in


def test_check_in_opens_exactly_its_minutes_before_the_start(server: Server, world: World) -> None:
    space = check_in_space(world)
    opening_now = world.reservation(space, NOW + timedelta(minutes=15), NOW + timedelta(hours=1))
    response = door(server, opening_now, "check-in")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["checked_in_at"] == "2030-01-07T10:00:00+01:00"
    assert body["checked_in_by"] == "demo"
    assert body["status"] == "Processed"
    assert stored(world, opening_now).checked_in_by == "demo"
    assert actions(world, opening_now) == ["check_in"]


def test_check_in_a_second_before_the_window_opens_is_refused(server: Server, world: World) -> None:
    space = check_in_space(world)
    start = NOW + timedelta(minutes=15, seconds=1)
    early = world.reservation(space, start, start + timedelta(hours=1))
    response = door(server, early, "check-in")
    assert response.status_code == 400
    assert response.json() == {
        "message": f"Check-in for reservation {early:011d} opens at "
        "2030-01-07T10:00:01+01:00, 15 minutes before its start.",
        "code": "CheckInNotOpen",
        "details": [{"opens_at": "2030-01-07T10:00:01+01:00"}],
    }
    assert stored(world, early).checked_in_at is None
    assert actions(world, early) == []


def test_a_second_check_in_answers_the_first_ones_time(server: Server, world: World) -> None:
    space = check_in_space(world)
    number = world.reservation(space, NOW, NOW + timedelta(hours=1))
    first = door(server, number, "check-in")
    assert first.status_code == 200, first.text
    server.set_clock(at(NOW + timedelta(minutes=3)))
    second = door(server, number, "check-in")
    assert second.status_code == 200, second.text
    assert second.json() == first.json()
    assert second.json()["checked_in_at"] == "2030-01-07T10:00:00+01:00"
    assert actions(world, number) == ["check_in"]


def test_check_in_closes_at_the_release_minute_and_after_the_end(
    server: Server, world: World
) -> None:
    space = check_in_space(world, auto_release_minutes=10)
    number = world.reservation(space, NOW - timedelta(minutes=10), NOW + timedelta(hours=1))
    closed = door(server, number, "check-in")
    assert closed.status_code == 400
    assert closed.json()["code"] == "CheckInClosed"
    relaxed = world.space()  # no check-in required: open until the end
    ended = world.reservation(relaxed, NOW - timedelta(hours=1), NOW)
    assert door(server, ended, "check-in").json()["code"] == "CheckInClosed"
    running = world.reservation(
        world.space(), NOW - timedelta(minutes=50), NOW + timedelta(minutes=5)
    )
    assert door(server, running, "check-in").status_code == 200


def test_check_in_of_a_cancelled_or_unknown_reservation(server: Server, world: World) -> None:
    space = check_in_space(world)
    number = world.reservation(space, NOW + timedelta(minutes=5), NOW + timedelta(hours=1))
    cancel = server.call("REST_CancelReservation", {"UltimoId": f"{number:011d}"})
    assert cancel.status_code == 200, cancel.text
    refused = door(server, number, "check-in")
    assert refused.status_code == 400
    assert refused.json()["code"] == "ReservationCancelled"
    missing = door(server, 99_999_999, "check-in")
    assert missing.status_code == 404
    assert missing.json()["code"] == "RecordNotFound"


# Release of no-shows


def test_release_happens_at_the_release_minute_exactly(server: Server, world: World) -> None:
    space = check_in_space(world, auto_release_minutes=10)
    start = NOW + timedelta(hours=2)
    number = world.reservation(space, start, start + timedelta(hours=1))
    server.set_clock(at(start + timedelta(minutes=10) - timedelta(seconds=1)))
    time.sleep(3)  # the job runs every 2 s: it had its chance
    assert stored(world, number).status == "Processed"
    server.set_clock(at(start + timedelta(minutes=10)))
    assert wait_for(lambda: stored(world, number).status == "Cancelled")
    row = stored(world, number)
    assert row.released_at == start + timedelta(minutes=10)
    assert actions(world, number) == ["release"]
    feed = server.client.get(
        "/api/booking/changes", params={"space": space.id}, headers=HEADERS
    ).json()
    assert [e["type"] for e in feed["events"]] == ["reservation.released"]
    assert feed["events"][0]["reservation"]["status"] == "Cancelled"
    got = server.call(
        "REST_GetReservationsForSpace",
        {"SpaceId": space.id, "From": at(start), "Till": at(start + timedelta(hours=1))},
    )
    assert got.json()["properties"]["Output"]["collection"] == []
    refused = door(server, number, "check-in")
    assert refused.json()["code"] == "ReservationReleased"
    # The room is free at once: book the rest of the slot.
    booked = server.call(
        "REST_CreateReservation",
        {
            "ExternalId": "",
            "Description": "",
            "SpaceId": space.id,
            "StartTime": at(start + timedelta(minutes=10)),
            "EndTime": at(start + timedelta(hours=1)),
            "ApplicantId": "ULTIMO",
        },
    )
    assert booked.status_code == 200, booked.text


def test_release_never_touches_a_checked_in_reservation(server: Server, world: World) -> None:
    space = check_in_space(world, auto_release_minutes=5)
    start = NOW + timedelta(minutes=10)
    checked = world.reservation(space, start, start + timedelta(hours=1))
    assert door(server, checked, "check-in").status_code == 200
    other_space = check_in_space(world, auto_release_minutes=5)
    no_show = world.reservation(other_space, start, start + timedelta(hours=1))
    server.set_clock(at(start + timedelta(minutes=30)))
    assert wait_for(lambda: stored(world, no_show).status == "Cancelled")
    time.sleep(2.5)  # one more round of the job
    assert stored(world, checked).status == "Processed"
    assert actions(world, checked) == ["check_in"]
    assert actions(world, no_show) == ["release"]


def test_no_release_without_check_in_required_or_with_zero_minutes(
    server: Server, world: World
) -> None:
    start = NOW + timedelta(minutes=30)
    relaxed = world.reservation(world.space(), start, start + timedelta(hours=1))
    never = world.reservation(
        check_in_space(world, auto_release_minutes=0), start, start + timedelta(hours=1)
    )
    server.set_clock(at(start + timedelta(minutes=40)))
    time.sleep(3)
    assert stored(world, relaxed).status == "Processed"
    assert stored(world, never).status == "Processed"


# End early and extend


def test_end_early_cuts_the_end_to_now_and_the_cleanup_follows(
    server: Server, world: World
) -> None:
    space = world.space(prep=5, cleanup=10)
    number = world.reservation(space, NOW - timedelta(minutes=20), NOW + timedelta(minutes=40))
    ended = door(server, number, "end")
    assert ended.status_code == 200, ended.text
    body = ended.json()
    assert (body["end"], body["blocked_end"], body["ended_at"]) == (
        "2030-01-07T10:00:00+01:00",
        "2030-01-07T10:10:00+01:00",
        "2030-01-07T10:00:00+01:00",
    )
    assert actions(world, number) == ["end"]

    def book(start: datetime) -> httpx.Response:
        return server.call(
            "REST_CreateReservation",
            {
                "ExternalId": "",
                "Description": "",
                "SpaceId": space.id,
                "StartTime": at(start),
                "EndTime": at(start + timedelta(minutes=30)),
                "ApplicantId": "ULTIMO",
            },
        )

    # The cleanup (10) and the next one's preparation (5) still stand between them.
    assert book(NOW + timedelta(minutes=14)).json()["code"] == "1015"
    assert book(NOW + timedelta(minutes=15)).status_code == 200
    again = door(server, number, "end")
    assert again.status_code == 400
    assert again.json()["code"] == "1166"


def test_end_early_refuses_a_reservation_that_has_not_started(server: Server, world: World) -> None:
    number = world.reservation(world.space(), NOW + timedelta(minutes=5), NOW + timedelta(hours=1))
    response = door(server, number, "end")
    assert response.status_code == 400
    assert response.json() == {
        "message": f"Reservation {number:011d} has not started; cancel it instead.",
        "code": "ReservationNotRunning",
    }


def test_extend_up_to_the_next_ones_preparation(server: Server, world: World) -> None:
    space = world.space(prep=15, cleanup=10, description="Corner room")
    running = world.reservation(space, NOW - timedelta(minutes=30), NOW + timedelta(minutes=30))
    following = world.reservation(space, NOW + timedelta(hours=2), NOW + timedelta(hours=3))
    extended = door(server, running, "extend", minutes=30)
    assert extended.status_code == 200, extended.text
    assert (extended.json()["end"], extended.json()["blocked_end"]) == (
        "2030-01-07T11:00:00+01:00",
        "2030-01-07T11:10:00+01:00",
    )
    # 11:45 + 10 cleanup would reach past 11:45, where the next one's preparation starts.
    refused = door(server, running, "extend", minutes=45)
    assert refused.status_code == 400
    assert refused.json() == {
        "message": TAKEN.format("Corner room"),
        "code": "1015",
        "details": [
            {
                "next_ultimo_id": f"{following:011d}",
                "next_start": "2030-01-07T12:00:00+01:00",
                "next_start_including_preparation": "2030-01-07T11:45:00+01:00",
                "free_until": "2030-01-07T11:35:00+01:00",
            }
        ],
    }
    assert stored(world, running).end_time == NOW + timedelta(hours=1)
    assert door(server, running, "extend", minutes=36).json()["code"] == "1015"
    # Up to free_until: its cleanup then touches the next one's preparation.
    fits = door(server, running, "extend", minutes=35)
    assert fits.status_code == 200, fits.text
    assert (fits.json()["end"], fits.json()["blocked_end"]) == (
        "2030-01-07T11:35:00+01:00",
        "2030-01-07T11:45:00+01:00",
    )
    assert actions(world, running) == ["update", "update"]


def test_extend_refuses_bad_minutes_and_ended_reservations(server: Server, world: World) -> None:
    space = world.space()
    number = world.reservation(space, NOW - timedelta(hours=1), NOW - timedelta(minutes=1))
    for minutes in (0, -5, 721):
        bad = door(server, number, "extend", minutes=minutes)
        assert bad.status_code == 400
        assert bad.json()["code"] == "InvalidParameter"
    missing = server.client.post(
        f"/api/booking/reservations/{number:011d}/extend", headers=HEADERS, json={}
    )
    assert missing.json()["code"] == "InvalidParameter"
    ended = door(server, number, "extend", minutes=15)
    assert ended.status_code == 400
    assert ended.json()["code"] == "1166"


# Grants


def test_a_panel_key_works_at_the_door_and_nowhere_else(server: Server, world: World) -> None:
    panel = world.key(workflows=PANEL_GRANTS)
    space = check_in_space(world)
    number = world.reservation(space, NOW, NOW + timedelta(hours=1))
    assert door(server, number, "check-in", key=panel).status_code == 200
    assert door(server, number, "extend", key=panel, minutes=15).status_code == 200
    assert door(server, number, "end", key=panel).status_code == 200
    for method, path in (
        ("GET", "/api/manage/spaces"),
        ("GET", "/api/manage/audit"),
        ("POST", "/api/manage/keys"),
    ):
        refused = server.client.request(method, path, headers={"ApiKey": panel})
        assert refused.status_code == 401, (path, refused.text)
        refused = server.client.request(method, path, headers={"Authorization": f"Bearer {panel}"})
        assert refused.status_code == 401, (path, refused.text)
    series = server.client.post("/api/booking/series", headers={"ApiKey": panel}, json={})
    assert series.status_code == 403
    assert series.json()["code"] == "WorkflowNotAllowed"
    cancel = server.call("REST_CancelReservation", {"UltimoId": f"{number:011d}"}, key=panel)
    assert cancel.status_code == 403
    without = world.key(workflows=["REST_GetReservationsForSpace", "REST_CreateReservation"])
    refused = door(server, number, "check-in", key=without)
    assert refused.status_code == 403
    assert refused.json() == {
        "message": "This API key may not call checkin.",
        "code": "WorkflowNotAllowed",
    }


# Several workers


def test_two_workers_release_each_no_show_exactly_once(
    database_url: str, tmp_path: Path, make_world: Any
) -> None:
    server = start_server(database_url, tmp_path, "--workers", "2", command="serve")
    try:
        world: World = make_world(database_url)
        person = world.person().id
        now = datetime.now(UTC)
        numbers = []
        for _ in range(3):  # rounds, so the workers meet due rows at different moments
            for _ in range(15):
                space = check_in_space(world, auto_release_minutes=10)
                numbers.append(
                    world.reservation(
                        space, now - timedelta(minutes=11), now + timedelta(hours=1), person
                    )
                )
            time.sleep(1)

        def all_released() -> bool:
            with world.database.read() as conn:
                return conn.execute(
                    select(func.count())
                    .select_from(reservations)
                    .where(r.ultimo_id.in_(numbers), r.status == "Cancelled")
                ).scalar_one() == len(numbers)

        assert wait_for(all_released, 30)
        time.sleep(3)  # both workers have run again since
        with world.database.read() as conn:
            entries = conn.execute(
                select(audit_log.c.ultimo_id, func.count())
                .where(audit_log.c.ultimo_id.in_(numbers))
                .group_by(audit_log.c.ultimo_id)
            ).all()
        assert sorted(entries) == [(number, 1) for number in sorted(numbers)]
    finally:
        server.stop()
