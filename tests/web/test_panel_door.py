"""The door panel at the door, in a real browser: check in, end now, extend, live updates
from the change stream without a reload, and the offline state recovering by itself.

The module's demo server has its clock pinned at 2030-01-07 09:00 UTC: 10:00 in
Amsterdam, where the test spaces are. The panels load with ``?refresh=3600``, so a change
that shows within seconds came over the stream, not from polling.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select

from roomline.storage.tables import reservations
from tests.conftest import TEST_NOW, World
from tests.support import Server, start_server

NOW = datetime.fromisoformat(TEST_NOW.replace("Z", "+00:00"))  # 10:00 in Amsterdam
PANEL_GRANTS = ["REST_GetReservationsForSpace", "REST_CreateReservation", "checkin", "changes"]
r = reservations.c


def open_panel(
    page: Any, server: Server, space_id: str, key: str, applicant: str = "ULTIMO"
) -> None:
    page.goto(f"{server.base_url}/panel/{space_id}?refresh=3600&key={key}&applicant={applicant}")
    expect(page.locator("[data-live]")).to_have_text("● Live")


def stored(world: World, ultimo_id: int) -> Any:
    with world.database.read() as conn:
        return conn.execute(select(reservations).where(r.ultimo_id == ultimo_id)).one()


def test_check_in_on_the_panel_with_its_count_down(server: Server, world: World, page: Any) -> None:
    space = world.space(check_in_required=True, auto_release_minutes=10, description="Fjord")
    person = world.person("Jansen, K.")
    number = world.reservation(
        space, NOW + timedelta(minutes=5), NOW + timedelta(hours=1), person.id, "Planning"
    )
    key = world.key(workflows=PANEL_GRANTS)
    open_panel(page, server, space.id, key)
    door = page.locator("[data-door]")
    expect(door.locator("[data-door-title]")).to_have_text("Check in")
    expect(door.locator("[data-door-text]")).to_have_text("10:05–11:00 Planning")
    # Released at 10:15: 15 minutes from the pinned 10:00, counting down in real time.
    expect(door.locator("[data-countdown]")).to_have_text(
        re.compile(r"Released in 1[45]:\d\d unless someone checks in")
    )
    expect(door.get_by_role("button", name="End now")).to_be_hidden()
    with page.expect_response(lambda a: a.url.endswith("/check-in")) as answer:
        door.get_by_role("button", name="Check in").click()
    assert answer.value.status == 200
    expect(page.locator("[data-door-note]")).to_have_text("Checked in at 10:00.")
    expect(door).to_be_hidden()  # nothing left to do before it starts
    expect(page.locator("[data-next] li").first).to_contain_text("✓ Planning")
    row = stored(world, number)
    assert (row.checked_in_at, row.checked_in_by) == (NOW, f"key-{key}")


def test_end_now_and_extend_on_the_panel(server: Server, world: World, page: Any) -> None:
    space = world.space(cleanup=5, description="Harbour")
    person = world.person("Smit, L.")
    running = world.reservation(
        space, NOW - timedelta(minutes=30), NOW + timedelta(minutes=30), person.id, "Review"
    )
    world.reservation(space, NOW + timedelta(minutes=50), NOW + timedelta(hours=2), person.id)
    open_panel(page, server, space.id, world.key(workflows=PANEL_GRANTS))
    expect(page.locator("[data-state-word]")).to_have_text("Busy")
    expect(page.locator("[data-state-until]")).to_have_text("until 10:30")
    door = page.locator("[data-door]")
    expect(door.locator("[data-door-title]")).to_have_text("This meeting")
    # 10:30 + 15 + 5 cleanup reaches 10:50 exactly: fits. 30 minutes do not.
    expect(door.get_by_role("button", name="Extend 15 min")).to_be_enabled()
    expect(door.get_by_role("button", name="Extend 30 min")).to_be_disabled()

    door.get_by_role("button", name="Extend 15 min").click()
    expect(page.locator("[data-door-note]")).to_have_text("Extended until 10:45.")
    expect(page.locator("[data-state-until]")).to_have_text("until 10:45")
    expect(door.get_by_role("button", name="Extend 15 min")).to_be_disabled()
    assert stored(world, running).end_time == NOW + timedelta(minutes=45)

    door.get_by_role("button", name="End now").click()
    expect(page.locator("[data-door-note]")).to_have_text("Ended at 10:00; the room is free.")
    expect(page.locator("[data-state-word]")).to_have_text("Free")
    expect(page.locator("[data-state-detail]")).to_have_text("Being cleaned up until 10:05")
    assert stored(world, running).ended_at == NOW


def test_a_change_made_through_the_api_shows_on_an_open_panel_without_reload(
    server: Server, world: World, page: Any
) -> None:
    space = world.space(description="Lagoon")
    open_panel(page, server, space.id, world.key(workflows=PANEL_GRANTS))
    expect(page.locator("[data-state-word]")).to_have_text("Free")
    page.evaluate("window.stillTheSamePage = true")
    created = server.call(
        "REST_CreateReservation",
        {
            "ExternalId": "",
            "Description": "Booked elsewhere",
            "SpaceId": space.id,
            "StartTime": "2030-01-07 10:00:00",
            "EndTime": "2030-01-07 11:00:00",
            "ApplicantId": "ULTIMO",
        },
    )
    assert created.status_code == 200, created.text
    expect(page.locator("[data-state-word]")).to_have_text("Busy", timeout=5000)
    expect(page.locator("[data-state-detail]")).to_contain_text("Booked elsewhere")
    number = created.json()["Properties"]["UltimoId"]
    cancelled = server.call("REST_CancelReservation", {"UltimoId": number})
    assert cancelled.status_code == 200
    expect(page.locator("[data-state-word]")).to_have_text("Free", timeout=5000)
    assert page.evaluate("window.stillTheSamePage") is True


def test_the_panel_says_offline_and_recovers_by_itself(
    database_url: str, tmp_path: Path, make_world: Any, page: Any
) -> None:
    server = start_server(database_url, tmp_path, "--now", TEST_NOW)
    port = int(server.base_url.rsplit(":", 1)[1])
    world: World = make_world(database_url)
    space = world.space(description="Atoll")
    key = world.key(workflows=PANEL_GRANTS)
    try:
        open_panel(page, server, space.id, key)
        expect(page.locator("[data-state-word]")).to_have_text("Free")
        server.stop()
        expect(page.locator("[data-state-word]")).to_have_text("Offline", timeout=10_000)
        expect(page.locator("[data-live]")).to_have_text("Offline — retrying")
        expect(page.locator("[data-state-detail]")).to_contain_text("cannot be reached")
        # Booked while the server is down, straight into the database (no change event):
        # the panel can only learn of it by loading the state once the server is back.
        # Booking after the restart would race the panel's own retry, which may load the
        # state first and then has no event to tell it of the booking.
        world.reservation(space, NOW - timedelta(minutes=5), NOW + timedelta(minutes=55))
        server = start_server(database_url, tmp_path, "--now", TEST_NOW, port=port)
        expect(page.locator("[data-state-word]")).to_have_text("Busy", timeout=15_000)
        expect(page.locator("[data-live]")).to_have_text("● Live", timeout=40_000)
    finally:
        server.stop()


def test_a_panel_whose_stream_finds_no_server_says_offline_at_once(
    server: Server, world: World, page: Any
) -> None:
    """A server shutting down ends its streams and may still answer a request or two. The
    panel's next stream then finds nobody: the panel must find out then, not at its next
    poll (an hour here). The browser plays the shutdown: the first stream ends at once;
    the second is held until the panel's requests are done, and then fails, as does
    everything after it."""
    space = world.space(description="Skerry")
    key = world.key(workflows=PANEL_GRANTS)
    streams: list[Any] = []
    gone = False

    def stream(route: Any) -> None:
        streams.append(route)
        if len(streams) == 1:
            route.fulfill(
                status=200, headers={"Content-Type": "text/event-stream"}, body=": ping\n\n"
            )
        elif gone:
            route.abort()

    def anything_else(route: Any) -> None:
        if gone:
            route.abort()
        else:
            route.continue_()

    page.route(re.compile(r".*/api/(panel|V1)/.*"), anything_else)
    page.route(re.compile(r".*/api/booking/changes/stream.*"), stream)
    page.goto(f"{server.base_url}/panel/{space.id}?refresh=3600&key={key}&applicant=ULTIMO")
    expect(page.locator("[data-state-word]")).to_have_text("Free")
    while len(streams) < 2:
        page.wait_for_timeout(100)
    page.wait_for_timeout(500)  # every refresh the first stream's end asked for is done
    expect(page.locator("[data-state-word]")).to_have_text("Free")
    gone = True
    streams[1].abort()
    expect(page.locator("[data-state-word]")).to_have_text("Offline", timeout=5000)
    expect(page.locator("[data-live]")).to_have_text("Offline — retrying")
