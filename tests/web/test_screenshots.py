"""Screenshots of the web view for the README, taken from a real server and browser.

They are always written to a temporary folder (so this test runs everywhere); with
``ROOMLINE_UPDATE_SCREENSHOTS=1`` they are copied to ``docs/screenshots/`` as well.
SQLite only: the pictures do not depend on the database.
"""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from roomline.domain.reservations import Person, Space, blocked_interval
from roomline.storage import masterdata
from roomline.storage import reservations as store
from tests.conftest import World
from tests.support import Server, start_server
from tests.web.test_browser import pick, sign_in

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
NOW = "2030-01-07T09:40:00Z"  # 10:40 in Amsterdam
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
SPACES = (
    Space("A-101", "Boardroom", "Europe/Amsterdam", 15, 15, 14, True, "A", "1", ("video",)),
    Space(
        "A-102",
        "Meeting room Rhine",
        "Europe/Amsterdam",
        0,
        10,
        8,
        True,
        "A",
        "1",
        ("projector", "whiteboard"),
    ),
    Space("A-201", "Huddle 1", "Europe/Amsterdam", 0, 0, 4, True, "A", "2", ("whiteboard",)),
    Space(
        "B-001",
        "Training room",
        "Europe/Amsterdam",
        30,
        30,
        24,
        True,
        "B",
        "0",
        ("projector", "video", "wheelchair"),
    ),
    Space("B-014", "Focus booth", "Europe/Amsterdam", 0, 5, 1, True, "B", "1"),
)
PEOPLE = (
    Person("PJ", "Jansen, P."),
    Person("SV", "de Vries, S."),
    Person("MB", "Bakker, M."),
    Person("AV", "Visser, A."),
)
# (space, local start, local end, description, applicant) on 2030-01-07.
BOOKINGS = (
    ("A-101", "08:30", "10:00", "Board meeting", "PJ"),
    ("A-101", "11:00", "12:30", "Quarterly review", "SV"),
    ("A-101", "14:00", "15:00", "Supplier call", "PJ"),
    ("A-102", "09:30", "11:00", "Sprint planning", "MB"),
    ("A-102", "13:00", "14:30", "Design critique", "AV"),
    ("A-102", "15:00", "16:00", "Retrospective", "MB"),
    ("A-201", "10:15", "10:45", "1:1 Sanne / Piet", "SV"),
    ("A-201", "12:00", "12:30", "Quick sync", "AV"),
    ("A-201", "16:00", "17:00", "Interview", "PJ"),
    ("B-001", "09:00", "12:00", "Onboarding training", "AV"),
    ("B-001", "13:30", "16:30", "Safety course", "SV"),
    ("B-014", "09:00", "09:15", "Check-in", "SV"),
    ("B-014", "11:00", "13:00", "Deep work", "MB"),
    ("B-014", "14:00", "15:30", "Writing", "AV"),
)
# The rest of A-102's week, for the week view: (day of January 2030, ...).
LATER = (
    (8, "A-102", "09:00", "10:00", "Stand-up", "MB"),
    (8, "A-102", "13:30", "15:00", "Hiring panel", "PJ"),
    (9, "A-102", "08:30", "08:45", "Check-in", "MB"),
    (9, "A-102", "10:00", "12:00", "Workshop", "SV"),
    (10, "A-102", "09:00", "09:30", "Quick sync", "PJ"),
    (10, "A-102", "11:00", "12:30", "Customer demo", "AV"),
    (11, "A-102", "09:00", "10:00", "Stand-up", "MB"),
    (11, "A-102", "15:00", "16:00", "Friday wrap-up", "PJ"),
)


def _at(clock: str, day: int = 7) -> datetime:
    hours, minutes = (int(part) for part in clock.split(":"))
    local = datetime(2030, 1, day, tzinfo=AMSTERDAM) + timedelta(hours=hours, minutes=minutes)
    return local.astimezone(UTC)


def _furnish(world: World) -> None:
    by_id = {space.id: space for space in SPACES}
    with world.database.write() as conn:
        for space in SPACES:
            masterdata.add_space(conn, space)
        for person in PEOPLE:
            masterdata.add_person(conn, person)
        for day, space_id, start_text, end_text, description, applicant in [
            (7, *booking) for booking in BOOKINGS
        ] + list(LATER):
            space = by_id[space_id]
            start, end = _at(start_text, day), _at(end_text, day)
            store.insert_reservation(
                conn,
                space=space,
                applicant_id=applicant,
                description=description,
                start=start,
                end=end,
                blocked=blocked_interval(
                    start, end, space.preparation_minutes, space.cleanup_minutes
                ),
                api_key_id=None,
                external_id="",
                request_fingerprint=None,
                now=start - timedelta(days=3),
            )


@pytest.fixture
def gallery(tmp_path: Path, make_world: Callable[[str], World]) -> Iterator[tuple[Server, World]]:
    url = f"sqlite:///{tmp_path / 'screenshots.db'}"
    server = start_server(
        url, tmp_path, "--now", NOW, env={"ROOMLINE_DEFAULT_TIME_ZONE": "Europe/Amsterdam"}
    )
    world = make_world(url)
    _furnish(world)
    yield server, world
    server.stop()


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return int(width), int(height)


def test_screenshots_of_the_timeline_and_the_door_panel(
    gallery: tuple[Server, World], chromium: Any, tmp_path: Path
) -> None:
    server, world = gallery
    key = world.key(
        workflows=["REST_GetReservationsForSpace", "REST_CreateReservation", "checkin", "changes"]
    )
    shots = tmp_path / "shots"
    shots.mkdir()

    wall = chromium.new_context(
        viewport={"width": 1920, "height": 760}, locale="en-GB", reduced_motion="reduce"
    )
    page = wall.new_page()
    sign_in(page, server, "/web/?date=2030-01-07")
    expect(page.locator(".block")).to_have_count(len(BOOKINGS))
    page.screenshot(path=str(shots / "timeline.png"), full_page=True)
    # A quarter of an hour: its title on one line, the rest on hover.
    check_in = page.locator(".block", has_text="Check-in")
    check_in.hover()
    expect(check_in.locator(".more")).to_be_visible()
    page.screenshot(path=str(shots / "timeline-hover.png"))
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{server.base_url}/web/spaces/A-102/week?date=2030-01-07")
    expect(page.locator(".block")).to_have_count(3 + len(LATER))
    page.screenshot(path=str(shots / "week.png"))
    wall.close()

    # Check-in required: the 10:45 meeting's window is open, released at 10:55 without it.
    amstel = world.space(
        tz="Europe/Amsterdam", description="Meeting room Amstel", check_in_required=True
    )
    world.reservation(amstel, _at("10:45"), _at("11:30"), "MB", "Client call")
    tablet = chromium.new_context(
        viewport={"width": 1280, "height": 800}, locale="en-GB", reduced_motion="reduce"
    )
    panel = tablet.new_page()
    panel.goto(f"{server.base_url}/panel/A-102?key={key}&applicant=MB")
    expect(panel.locator("[data-state-word]")).to_have_text("Busy")
    expect(panel.locator("[data-next] li")).to_have_count(3)  # today and tomorrow, at most three
    expect(panel.get_by_role("button", name="End now")).to_be_visible()
    expect(panel.locator("[data-live]")).to_have_text("● Live")
    panel.screenshot(path=str(shots / "panel-busy.png"))
    panel.goto(f"{server.base_url}/panel/{amstel.id}")
    expect(panel.locator("[data-countdown]")).to_contain_text("Released in 14:")
    expect(panel.locator("[data-live]")).to_have_text("● Live")
    panel.screenshot(path=str(shots / "panel-check-in.png"))
    panel.goto(f"{server.base_url}/panel/B-014")
    expect(panel.locator("[data-state-word]")).to_have_text("Free")
    expect(panel.get_by_role("button", name="15 min")).to_be_enabled()
    expect(panel.get_by_role("button", name="30 min")).to_be_disabled()
    expect(panel.locator("[data-live]")).to_have_text("● Live")
    panel.screenshot(path=str(shots / "panel-free.png"))
    tablet.close()

    phone = chromium.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        locale="en-GB",
        reduced_motion="reduce",
    )
    small = phone.new_page()
    small.goto(f"{server.base_url}/panel/A-201?key={key}&applicant=MB")
    expect(small.locator("[data-state-word]")).to_have_text("Busy")
    expect(small.locator("[data-live]")).to_have_text("● Live")
    small.screenshot(path=str(shots / "panel-phone.png"))
    phone.close()

    find = chromium.new_context(
        viewport={"width": 1400, "height": 900}, locale="en-GB", reduced_motion="reduce"
    )
    finder = find.new_page()
    sign_in(finder, server, "/web/find")
    finder.goto(
        f"{server.base_url}/web/find?date=2030-01-07&time=17:00&duration=60&capacity=2"
        "&building=A&applicant=MB"
    )
    expect(finder.locator("[data-find-results] tbody tr")).to_have_count(3)
    finder.screenshot(path=str(shots / "find.png"), full_page=True)
    find.close()

    # Last: the server goes away under an open panel.
    tablet = chromium.new_context(
        viewport={"width": 1280, "height": 800}, locale="en-GB", reduced_motion="reduce"
    )
    panel = tablet.new_page()
    panel.goto(f"{server.base_url}/panel/A-102?key={key}&applicant=MB")
    expect(panel.locator("[data-live]")).to_have_text("● Live")
    server.stop()
    expect(panel.locator("[data-state-word]")).to_have_text("Offline", timeout=10_000)
    panel.screenshot(path=str(shots / "panel-offline.png"))
    tablet.close()

    for name in (
        "timeline",
        "timeline-hover",
        "week",
        "panel-busy",
        "panel-check-in",
        "panel-offline",
        "panel-free",
        "panel-phone",
        "find",
    ):
        width, height = _png_size(shots / f"{name}.png")
        assert width >= 390 and height >= 700, name
    for shot in shots.iterdir():
        keep_screenshot(shot)


def keep_screenshot(shot: Path) -> None:
    """Copy ``shot`` to docs/screenshots/ when ROOMLINE_UPDATE_SCREENSHOTS=1."""
    if os.environ.get("ROOMLINE_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS / shot.name)


def test_screenshots_of_the_repeat_dialog_and_a_series(
    gallery: tuple[Server, World], chromium: Any, tmp_path: Path
) -> None:
    server, _ = gallery
    shots = tmp_path / "shots"
    shots.mkdir()
    context = chromium.new_context(
        viewport={"width": 1400, "height": 1000}, locale="en-GB", reduced_motion="reduce"
    )
    page = context.new_page()
    sign_in(page, server, "/web/?date=2030-01-08")
    pick(page, "A-102", 11, 11.5)
    dialog = page.locator("#new-reservation")
    # 09:00, where its Tuesday and Friday stand-ups are in the way.
    dialog.get_by_label("Start").fill("2030-01-08T09:00")
    dialog.get_by_role("textbox", name="End").fill("2030-01-08T09:30")
    dialog.get_by_label("Applicant (person id)").fill("MB")
    dialog.get_by_label("Description").fill("Team stand-up")
    dialog.get_by_label("Repeats").select_option("weekly")
    for day in ("Tue", "Fri"):
        dialog.get_by_role("checkbox", name=day).check()
    dialog.get_by_label("Occurrences").fill("8")
    dialog.get_by_role("button", name="Preview occurrences").click()
    expect(dialog.locator("[data-preview-result] ol.booked li")).to_have_count(6)
    expect(dialog.locator("[data-preview-result] ul.skipped li")).to_have_count(2)
    dialog.locator("[data-preview-result] ul.skipped").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "series-dialog.png"))
    dialog.get_by_role("button", name="Book").click()
    expect(page.locator("tr[data-occurrence]")).to_have_count(6)
    page.screenshot(path=str(shots / "series.png"), full_page=True)
    context.close()

    for name in ("series-dialog", "series"):
        width, height = _png_size(shots / f"{name}.png")
        assert width >= 1400 and height >= 700, name
    for shot in shots.iterdir():
        keep_screenshot(shot)


def test_screenshot_of_the_subscribe_page(
    gallery: tuple[Server, World], chromium: Any, tmp_path: Path
) -> None:
    server, _ = gallery
    shots = tmp_path / "shots"
    shots.mkdir()
    context = chromium.new_context(
        viewport={"width": 1200, "height": 900}, locale="en-GB", reduced_motion="reduce"
    )
    page = context.new_page()
    sign_in(page, server, "/web/spaces/A-102/week?date=2030-01-07")
    page.get_by_role("link", name="Subscribe").click()
    page.get_by_label("Name (optional)").fill("Front desk (Apple Calendar)")
    page.get_by_role("button", name="Create feed URL").click()
    page.get_by_label("Name (optional)").fill("Reception Outlook")
    page.get_by_role("button", name="Create feed URL").click()
    expect(page.locator("tr[data-feed]")).to_have_count(2)
    expect(page.locator("[data-feed-url]")).to_contain_text("/feeds/")
    page.screenshot(path=str(shots / "subscribe.png"), full_page=True)
    context.close()

    width, height = _png_size(shots / "subscribe.png")
    assert width >= 1200 and height >= 700
    keep_screenshot(shots / "subscribe.png")
