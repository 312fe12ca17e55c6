"""The Reports page in a real browser: its charts are inline SVG drawn by the server, so
the test counts bars and cells; and the screenshots of it (desktop and tablet) for the
README, written to docs/screenshots/ with ROOMLINE_UPDATE_SCREENSHOTS=1 (SQLite only:
the picture does not depend on the database).
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from roomline.domain.reservations import blocked_interval
from roomline.services import audit
from roomline.storage import masterdata
from roomline.storage import reservations as store
from roomline.storage.direct import OnConnection, drive
from tests.conftest import World, door_event
from tests.support import Server, start_server
from tests.web.test_browser import sign_in
from tests.web.test_screenshots import PEOPLE, SPACES, _png_size, keep_screenshot

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
FIRST_MONDAY = datetime(2030, 1, 7, tzinfo=AMSTERDAM)
WEEKS = 4
PERIOD = "from=2030-01-07&till=2030-02-04"


def _local(day: int, hour: float) -> datetime:
    return (FIRST_MONDAY + timedelta(days=day, hours=hour)).astimezone(UTC)


def test_the_reports_page_draws_its_charts(server: Server, world: World, page: Any) -> None:
    building = f"Rep-{world.space().id}"
    rooms = [world.space(building=building, floor=str(floor)) for floor in (1, 1, 2)]
    # Three reservations in the week of 4 March 2030 and one the week after.
    for room, day, hour in ((rooms[0], 0, 9), (rooms[1], 1, 14), (rooms[2], 2, 10)):
        world.reservation(room, _local(56 + day, hour), _local(56 + day, hour + 1))
    world.reservation(rooms[0], _local(63, 9), _local(63, 11))

    sign_in(page, server, "/web/reports")
    expect(page.get_by_role("link", name="Reports")).to_have_attribute("aria-current", "page")
    page.goto(f"{server.base_url}/web/reports?from=2030-03-04&till=2030-03-18&group=building")
    spaces = server.admin("GET", "/api/manage/spaces").json()
    buildings = {space["building"] for space in spaces}
    expect(page.locator("[data-occupancy-chart] [data-bar]")).to_have_count(len(buildings))
    bar = page.locator(f'[data-occupancy-chart] [data-bar="{building}"] rect.booked')
    # 5 h of 3 × 100 working hours is 1.7 % (as shown) of the 510 units a bar may take.
    assert float(bar.get_attribute("width")) == round(1.7 / 100 * 510, 2)
    expect(page.locator("[data-heatmap] [data-cell]")).to_have_count(7 * 24)
    expect(page.locator("[data-trend] [data-week]")).to_have_count(2)
    row = page.locator("[data-report-table] tbody tr", has_text=building)
    expect(row).to_contain_text("5.0")  # booked hours

    page.goto(f"{server.base_url}/web/reports?from=2030-03-04&till=2030-03-18&group=space")
    expect(page.locator("[data-occupancy-chart] [data-bar]")).to_have_count(len(spaces))

    with page.expect_download() as download:
        page.locator("[data-csv-link]").click()
    lines = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert len(lines) == len(spaces) + 1
    assert {line["space"]: line["booked_hours"] for line in lines}[rooms[0].id] == "3.0"

    page.goto(f"{server.base_url}/web/reports?from=2030-03-18&till=2030-03-04")
    expect(page.locator("[role=alert]")).to_contain_text("must be after")


def _furnish(world: World) -> None:
    """Four weeks of a small office: busier mornings, some cancellations and no-shows."""
    chance = random.Random(21)
    with world.database.write() as conn:
        for space in SPACES:
            masterdata.add_space(conn, space)
        for person in PEOPLE:
            masterdata.add_person(conn, person)
        for day in range(WEEKS * 7):
            if day % 7 >= 5:
                continue
            for space in SPACES:
                hour = 8.0
                while hour < 17:
                    busy = 0.75 if 9 <= hour < 12 else 0.45 if 13 <= hour < 16 else 0.2
                    length = chance.choice((0.5, 1.0, 1.0, 1.5, 2.0))
                    if chance.random() > busy or hour + length > 19:
                        hour += 0.5
                        continue
                    _book(conn, chance, space, day, hour, length)
                    hour += length + 1


def _book(
    conn: Any, chance: random.Random, space: Any, day: int, hour: float, length: float
) -> None:
    start, end = _local(day, hour), _local(day, hour + length)
    ultimo_id = store.insert_reservation(
        conn,
        space=space,
        applicant_id=chance.choice(PEOPLE).id,
        description="Meeting",
        start=start,
        end=end,
        blocked=blocked_interval(start, end, space.preparation_minutes, space.cleanup_minutes),
        api_key_id=None,
        external_id="",
        request_fingerprint=None,
        now=start - timedelta(hours=chance.choice((2, 20, 50, 120, 300))),
    )
    booked = store.get(conn, ultimo_id)
    assert booked is not None
    fate = chance.random()
    if fate < 0.1:
        at = start - timedelta(hours=chance.choice((1, 5, 30, 72)))
        store.cancel(conn, ultimo_id, at)
        after = store.get(conn, ultimo_id)
        assert after is not None
        drive(
            audit.record_on(
                OnConnection(conn), at=at, action="cancel", before=booked, after=after, actor=None
            )
        )
    elif fate < 0.16:
        door_event(conn, ultimo_id, "release", start + timedelta(minutes=15))
    elif fate < 0.7:
        door_event(conn, ultimo_id, "check_in", start + timedelta(minutes=2))


@pytest.fixture
def office(tmp_path: Path, make_world: Callable[[str], World]) -> Iterator[Server]:
    url = f"sqlite:///{tmp_path / 'reports.db'}"
    server = start_server(
        url,
        tmp_path,
        "--now",
        "2030-02-04T08:00:00Z",
        env={"ROOMLINE_DEFAULT_TIME_ZONE": "Europe/Amsterdam"},
    )
    _furnish(make_world(url))
    yield server
    server.stop()


def test_screenshots_of_the_reports_page(office: Server, chromium: Any, tmp_path: Path) -> None:
    shots = tmp_path / "shots"
    shots.mkdir()
    rows = len(office.admin("GET", "/api/manage/spaces").json())
    for name, viewport in (
        ("reports", {"width": 1400, "height": 900}),
        ("reports-tablet", {"width": 820, "height": 1180}),
    ):
        context = chromium.new_context(viewport=viewport, locale="en-GB", reduced_motion="reduce")
        page = context.new_page()
        sign_in(page, office, "/web/reports")
        # The default period: the four whole weeks before today's Monday.
        expect(page.get_by_label("From")).to_have_value("2030-01-07")
        expect(page.locator("[data-occupancy-chart] [data-bar]")).to_have_count(rows)
        expect(page.locator("[data-trend] [data-week]")).to_have_count(WEEKS)
        chart = page.locator("[data-occupancy-chart]").bounding_box()
        assert chart["width"] <= viewport["width"]  # no sideways scrolling for the charts
        if name == "reports-tablet":
            # The figures scroll sideways on a tablet; the row's name stays in view.
            wrap = page.locator(".table-wrap:has([data-report-table])")
            name_cell = page.locator("[data-report-table] tbody td").first
            before = name_cell.bounding_box()
            wrap.evaluate("element => { element.scrollLeft = element.scrollWidth; }")
            assert wrap.evaluate("element => element.scrollLeft") > 0
            # Stuck to the scrolled edge: it was inside the table's (collapsed) border.
            assert abs(name_cell.bounding_box()["x"] - before["x"]) <= 1
            wrap.evaluate("element => { element.scrollLeft = 0; }")
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        context.close()
        width, height = _png_size(shots / f"{name}.png")
        assert width == viewport["width"] and height >= 900, name
    for shot in shots.iterdir():
        keep_screenshot(shot)
