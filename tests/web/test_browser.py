"""The web view in a real browser (Debian's Chromium through Playwright).

The module's demo server has its clock pinned at 2030-01-07 09:00 UTC: 10:00 in
Amsterdam, where the test spaces are. Every test makes its own spaces.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.conftest import World
from tests.support import ADMIN_TOKEN, Server

GET = "REST_GetReservationsForSpace"
CREATE = "REST_CreateReservation"
DAY = "2030-01-07"


def sign_in(page: Any, server: Server, path: str) -> None:
    """Open ``path``, get sent to the sign-in form, sign in, and land on ``path``."""
    page.goto(server.base_url + path)
    expect(page).to_have_url(re.compile(r"/web/login\?next="))
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(server.base_url + path)


def pick(page: Any, space_id: str, first_hour: float, last_hour: float) -> None:
    """Drag across the space's track from ``first_hour`` to ``last_hour`` (local time)."""
    track = page.locator(f'[data-track][data-space="{space_id}"]')
    box = track.bounding_box()
    y = box["y"] + box["height"] / 2

    def x(hour: float) -> float:
        return float(box["x"] + box["width"] * hour / 24)

    page.mouse.move(x(first_hour) + 1, y)
    page.mouse.down()
    page.mouse.move(x((first_hour + last_hour) / 2), y, steps=4)
    page.mouse.move(x(last_hour) - 1, y, steps=4)
    page.mouse.up()


def collection(
    server: Server,
    space_id: str,
    from_time: str = f"{DAY} 00:00:00",
    till_time: str = "2030-01-08 00:00:00",
) -> list[dict[str, str]]:
    body = {"SpaceId": space_id, "From": from_time, "Till": till_time}
    response = server.call(GET, body)
    assert response.status_code == 200, response.text
    return list(response.json()["properties"]["Output"]["collection"])


def test_book_by_picking_a_range_see_it_refuse_a_conflict_and_cancel(
    server: Server, world: World, page: Any
) -> None:
    space = world.space(prep=15, cleanup=15, description="Design studio")
    person = world.person("Visser, A.")
    sign_in(page, server, f"/web/?date={DAY}")

    pick(page, space.id, 11, 12)
    dialog = page.locator("#new-reservation")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Space")).to_have_value(space.id)
    expect(dialog.get_by_label("Start")).to_have_value(f"{DAY}T11:00")
    expect(dialog.get_by_label("End")).to_have_value(f"{DAY}T12:00")
    expect(dialog.locator("[data-zone-name]")).to_have_text("Europe/Amsterdam")
    dialog.get_by_label("Applicant (person id)").fill(person.id)
    dialog.get_by_label("Description").fill("Design review")
    dialog.get_by_role("button", name="Book").click()

    flash = page.locator(".flash")
    expect(flash).to_have_text(re.compile(r"Reservation \d{11} created\."))
    ultimo_id = re.findall(r"\d{11}", flash.inner_text())[0]
    [stored] = collection(server, space.id)
    assert stored == {
        "UltimoId": ultimo_id,
        "Description": "Design review",
        "ApplicantId": person.id,
        "ApplicantName": "Visser, A.",
        "StartTime": f"{DAY}T11:00:00.000000+01:00",
        "EndTime": f"{DAY}T12:00:00.000000+01:00",
        "StartTimeIncludingPreparationTime": f"{DAY}T10:45:00.000000+01:00",
        "EndTimeIncludingCleanupTime": f"{DAY}T12:15:00.000000+01:00",
        "Status": "Processed",
    }

    # Drawn over its blocked interval, 10:45-12:15, preparation and cleanup shaded.
    block = page.locator(f"#r{int(ultimo_id)}")
    expect(block).to_be_visible()
    expect(block).to_contain_text("11:00–12:00")
    expect(block).to_contain_text("Design review")
    track = page.locator(f'[data-track][data-space="{space.id}"]').bounding_box()
    drawn = block.bounding_box()
    hour = track["width"] / 24
    assert abs(drawn["x"] - (track["x"] + 10.75 * hour)) < 2
    assert abs(drawn["width"] - 1.5 * hour) < 2
    prep = block.locator(".prep").bounding_box()
    cleanup = block.locator(".cleanup").bounding_box()
    assert abs(prep["width"] - hour / 4) < 2 and abs(cleanup["width"] - hour / 4) < 2
    assert prep["x"] < block.locator(".main").bounding_box()["x"] < cleanup["x"]
    shading = block.locator(".prep").evaluate("e => getComputedStyle(e).backgroundImage")
    assert "repeating-linear-gradient" in shading

    # 12:00-12:30 would start inside the cleanup: refused with Ultimo's 1015 message.
    # (Dragged from the free 12:30 back into the shaded cleanup.)
    pick(page, space.id, 12.5, 12)
    expect(dialog).to_be_visible()
    dialog.get_by_label("Applicant (person id)").fill(person.id)
    with page.expect_response(lambda r: r.url.endswith("/web/reservations")) as answer:
        dialog.get_by_role("button", name="Book").click()
    assert answer.value.status == 400
    error = page.locator("#new-reservation [role=alert]")
    expect(error).to_be_visible()
    expect(error.locator(".error-message")).to_have_text(
        "Room reservation cannot be requested or processed.\nCause: Design studio is not available."
    )
    expect(error).to_contain_text("Code 1015")
    expect(dialog.get_by_label("Start")).to_have_value(f"{DAY}T12:00")
    assert len(collection(server, space.id)) == 1
    dialog.get_by_role("button", name="Close").click()

    # Open the details from the block and cancel there.
    block.click()
    expect(page.get_by_role("heading", name=f"Reservation {ultimo_id}")).to_be_visible()
    page.get_by_text("Cancel this reservation…").click()
    page.get_by_role("button", name="Yes, cancel reservation").click()
    expect(page.locator(".flash")).to_have_text(f"Reservation {ultimo_id} cancelled.")
    expect(page).to_have_url(f"{server.base_url}/web/?date={DAY}")
    expect(page.locator(f"#r{int(ultimo_id)}")).to_have_count(0)
    assert collection(server, space.id) == []


def test_book_now_from_a_door_panel_and_see_the_timeline_change(
    server: Server, world: World, page: Any
) -> None:
    from datetime import UTC, datetime

    space = world.space(cleanup=10, description="Huddle corner")
    person = world.person("Bakker, M.")
    key = world.key(workflows=[GET, CREATE])
    # Someone has it from 10:50 (local): 15 and 30 minutes fit now, 60 do not.
    world.reservation(
        space,
        datetime(2030, 1, 7, 9, 50, tzinfo=UTC),
        datetime(2030, 1, 7, 10, 30, tzinfo=UTC),
        applicant=person.id,
    )
    page.goto(f"{server.base_url}/panel/{space.id}?key={key}&applicant={person.id}")
    expect(page.locator("[data-state-word]")).to_have_text("Free")
    expect(page.locator("[data-state-until]")).to_have_text("until 10:50")
    expect(page.locator("[data-name]")).to_have_text("Huddle corner")
    expect(page.locator("[data-clock]")).to_have_text("10:00")
    expect(page).to_have_url(f"{server.base_url}/panel/{space.id}")  # the key left the address
    expect(page.get_by_role("button", name="60 min")).to_be_disabled()
    expect(page.locator("[data-next] li")).to_have_count(1)
    expect(page.locator("[data-next] li")).to_contain_text("10:50–11:30")

    with page.expect_response(lambda r: r.url.endswith(f"/api/V1/Action/{CREATE}")) as answer:
        page.get_by_role("button", name="30 min").click()
    assert answer.value.status == 200
    expect(page.locator("[data-book-note]")).to_have_text(
        re.compile(r"Booked until 10:30 \(reservation \d{11}\)\.")
    )
    expect(page.locator("[data-state-word]")).to_have_text("Busy")
    expect(page.locator("[data-state-until]")).to_have_text("until 10:30")
    expect(page.locator("[data-state-detail]")).to_have_text("Booked at the door\nBakker, M.")
    booked = collection(server, space.id)[0]
    assert (booked["StartTime"], booked["EndTime"], booked["Description"]) == (
        f"{DAY}T10:00:00.000000+01:00",
        f"{DAY}T10:30:00.000000+01:00",
        "Booked at the door",
    )

    sign_in(page, server, f"/web/?date={DAY}")
    block = page.locator(f"#r{int(booked['UltimoId'])}")
    expect(block).to_be_visible()
    expect(block).to_contain_text("10:00–10:30")
    expect(block).to_have_class(re.compile(r"\brunning\b"))
    row = page.locator(f'.tl-row:has([data-space="{space.id}"])')
    expect(row.locator(".badge")).to_have_text("Busy")


def test_a_panel_asks_for_its_key_and_refuses_a_wrong_one(
    server: Server, world: World, page: Any
) -> None:
    space = world.space()
    page.goto(f"{server.base_url}/panel/{space.id}")
    setup = page.locator("[data-setup]")
    expect(setup).to_be_visible()
    setup.get_by_label("API key").fill("0" * 32)
    setup.get_by_label("Applicant id").fill("ULTIMO")
    setup.get_by_role("button", name="Save on this tablet").click()
    expect(page.locator("[data-setup-problem]")).to_have_text(
        "The key was refused: Missing API key"
    )
    setup.get_by_label("API key").fill(ADMIN_TOKEN)
    setup.get_by_role("button", name="Save on this tablet").click()
    expect(page.locator("[data-setup-problem]")).to_have_text(
        "The key was refused: The admin token cannot be used on a panel; use an API key "
        "with get, create, checkin and changes (roomline keys create --name <panel> "
        "--workflows get,create,checkin,changes)."
    )
    setup.get_by_label("API key").fill(world.key(workflows=[GET, CREATE]))
    setup.get_by_role("button", name="Save on this tablet").click()
    expect(setup).to_be_hidden()
    expect(page.locator("[data-state-word]")).to_have_text("Free")
    stored = page.evaluate("localStorage.getItem('roomline.panel')")
    assert '"applicant":"ULTIMO"' in stored


def test_the_timeline_works_from_the_keyboard(server: Server, world: World, page: Any) -> None:
    space = world.space(description="Keyboard room")
    sign_in(page, server, f"/web/?date={DAY}&q={space.id}")
    page.get_by_role("button", name="New reservation").focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#new-reservation")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Space").select_option(space.id)
    dialog.get_by_label("Start").fill(f"{DAY}T15:00")
    dialog.get_by_label("End").fill(f"{DAY}T16:00")
    dialog.get_by_label("Applicant (person id)").fill("ULTIMO")
    dialog.get_by_label("Description").press("Enter")
    expect(page.locator(".flash")).to_contain_text("created")
    [stored] = collection(server, space.id)
    assert stored["StartTime"] == f"{DAY}T15:00:00.000000+01:00"
    # Search narrows the rows as one types.
    page.goto(f"{server.base_url}/web/?date={DAY}")
    page.get_by_label("Search spaces").fill("keyboard room")
    expect(page.locator(f'.tl-row:has([data-space="{space.id}"])')).to_be_visible()
    expect(page.locator('.tl-row:has([data-space="C-25"])')).to_be_hidden()


def test_the_week_view_books_by_dragging_down_a_day(
    server: Server, world: World, page: Any
) -> None:
    space = world.space(prep=30, description="Week room")
    sign_in(page, server, f"/web/spaces/{space.id}/week?date={DAY}")
    wednesday = page.locator("[data-track]").nth(2)
    box = wednesday.bounding_box()
    x = box["x"] + box["width"] / 2

    def y(hour: float) -> float:
        return float(box["y"] + box["height"] * hour / 24)

    page.mouse.move(x, y(14) + 1)
    page.mouse.down()
    page.mouse.move(x, y(15.5) - 1, steps=6)
    page.mouse.up()
    dialog = page.locator("#new-reservation")
    expect(dialog.get_by_label("Start")).to_have_value("2030-01-09T14:00")
    expect(dialog.get_by_label("End")).to_have_value("2030-01-09T15:30")
    dialog.get_by_label("Applicant (person id)").fill("ULTIMO")
    dialog.get_by_role("button", name="Book").click()
    expect(page.locator(".flash")).to_contain_text("created")
    expect(page).to_have_url(re.compile(rf"/web/spaces/{space.id}/week\?date=2030-01-07#r\d+$"))
    block = page.locator("[data-track]").nth(2).locator(".block")
    expect(block).to_contain_text("14:00–15:30")
    drawn, track = block.bounding_box(), page.locator("[data-track]").nth(2).bounding_box()
    hour = track["height"] / 24
    assert abs(drawn["y"] - (track["y"] + 13.5 * hour)) < 2  # from 13:30, the preparation
    assert abs(drawn["height"] - 2 * hour) < 2


def test_short_reservations_show_their_title_on_one_line(
    server: Server, world: World, page: Any
) -> None:
    space = world.space(cleanup=5, description="Short room")
    person = world.person("Visser, A.")
    amsterdam = ZoneInfo("Europe/Amsterdam")
    short = {
        30: ("Design review", datetime(2030, 1, 7, 14, 0, tzinfo=amsterdam)),
        15: ("Stand-up", datetime(2030, 1, 7, 11, 0, tzinfo=amsterdam)),
    }
    ids = {
        minutes: world.reservation(
            space, start, start + timedelta(minutes=minutes), person.id, description=title
        )
        for minutes, (title, start) in short.items()
    }
    for path in (f"/web/?date={DAY}&q={space.id}", f"/web/spaces/{space.id}/week?date={DAY}"):
        if path.startswith("/web/?"):
            sign_in(page, server, path)
        else:
            page.goto(server.base_url + path)
        for minutes, (title, start) in short.items():
            block = page.locator(f"#r{ids[minutes]}")
            block.scroll_into_view_if_needed()
            shown = block.locator(".title")
            expect(shown).to_have_text(title)
            expect(shown).to_be_in_viewport(ratio=1)
            # All of it on one line: nothing cut off, no second line.
            assert shown.evaluate("e => e.scrollWidth <= e.clientWidth"), (path, title)
            height = shown.evaluate("e => e.getBoundingClientRect().height")
            line = shown.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)")
            assert height == pytest.approx(line, abs=1), (path, title)
            times = f"{start:%H:%M}–{start + timedelta(minutes=minutes):%H:%M}"
            rest = f"{times} · {title} · Visser, A. · prep 0 / cleanup 5 min · {ids[minutes]:011d}"
            expect(block).to_have_attribute(
                "aria-label",
                f"{ids[minutes]:011d} · {times} · {title} · Visser, A. · prep 0 / cleanup 5 min",
            )
            more = block.locator(".more")
            expect(more).to_be_hidden()
            block.hover()
            expect(more).to_be_visible()
            expect(more).to_have_text(rest)
            page.mouse.move(0, 0)
            expect(more).to_be_hidden()
            block.focus()
            expect(more).to_be_visible()
            block.blur()


def test_find_a_room_and_book_it_with_one_click(server: Server, world: World, page: Any) -> None:
    building = f"Find-{world.person().id}"  # a building of this test's own
    small = world.space(capacity=4, building=building, features=("projector",))
    large = world.space(capacity=12, building=building, features=("projector", "video"))
    world.space(capacity=6, building=building, features=("video",))  # lacks the projector
    person = world.person("Visser, A.")
    sign_in(page, server, "/web/find")

    page.get_by_label("Date").fill("2030-01-08")
    page.get_by_label("Start").fill("14:00")
    page.get_by_label("Duration").select_option("60")
    page.get_by_label("Seats (at least)").fill("3")
    page.get_by_label("Features").fill("projector")
    page.get_by_label("Building").fill(building)
    page.get_by_label("Book for (person id)").fill(person.id)
    page.get_by_role("button", name="Find").click()

    rows = page.locator("[data-find-results] tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-space", small.id)  # the smallest that fits
    expect(rows.nth(1)).to_have_attribute("data-space", large.id)
    grid = page.locator("[data-freebusy] tbody tr")
    expect(grid).to_have_count(2)
    expect(grid.nth(0)).to_have_attribute("data-view", "0" * 24)

    page.get_by_role("button", name=f"Book {small.id}").click()
    flash = page.locator(".flash")
    expect(flash).to_have_text(re.compile(r"Reservation \d{11} created\."))
    # Booked: the page shows the same search again, without that room.
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_have_attribute("data-space", large.id)
    body = {"SpaceId": small.id, "From": "2030-01-08 00:00:00", "Till": "2030-01-09 00:00:00"}
    [stored] = server.call(GET, body).json()["properties"]["Output"]["collection"]
    assert (stored["ApplicantId"], stored["StartTime"], stored["EndTime"]) == (
        person.id,
        "2030-01-08T14:00:00.000000+01:00",
        "2030-01-08T15:00:00.000000+01:00",
    )
