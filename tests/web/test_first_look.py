"""What a new user sees first: ``roomline demo`` opened in a browser, with the demo's clock.

The demo's clock starts at 2021-06-13 10:00 in Auckland (12 June, 22:00 UTC), and the web
view shows Auckland's day: Sunday 13 June, not the UTC date. Each page opens on working
hours with the now line in view, the hours before them a scroll away. SQLite only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support import Server, start_server
from tests.web.test_browser import sign_in

WORK_STARTS_AT = 7


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("demo")
    server = start_server(f"sqlite:///{folder / 'demo.db'}", folder)  # the demo's own clock
    yield server
    server.stop()


@pytest.fixture
def laptop(chromium: Any) -> Iterator[Any]:
    """A laptop-sized window: the day's 24 hours do not fit across it."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def first_hour_in_view(page: Any, axis: str) -> float:
    """Return the hour (of the home track) at the start of the timeline's visible part."""
    return float(
        page.evaluate(
            """axis => {
                const box = document.querySelector("[data-timeline]");
                const track = box.querySelector("[data-track]");
                const hour = (axis === "x" ? track.offsetWidth : track.offsetHeight) / 24;
                return (axis === "x" ? box.scrollLeft : box.scrollTop) / hour;
            }""",
            axis,
        )
    )


def test_the_day_view_opens_on_the_demo_clocks_today(demo: Server, laptop: Any) -> None:
    demo.set_clock("2021-06-13T10:00:00+12:00")
    sign_in(laptop, demo, "/web/")
    expect(laptop.locator("h1")).to_have_text("Sunday 13 June 2021")
    expect(laptop.get_by_role("link", name="Today")).to_have_attribute("aria-current", "date")
    expect(laptop.locator(".legend")).to_contain_text("Now: 10:00 Pacific/Auckland")
    now_line = laptop.locator('[data-track][data-space="C-25"] [data-now]')
    expect(now_line).to_be_in_viewport()
    assert first_hour_in_view(laptop, "x") == pytest.approx(WORK_STARTS_AT, abs=0.05)
    # The night before working hours is a scroll away.
    laptop.locator("[data-timeline]").evaluate("box => { box.scrollLeft = 0; }")
    assert first_hour_in_view(laptop, "x") == 0
    # The "Today" button goes to the same day.
    laptop.get_by_role("link", name="Next day →").click()
    expect(laptop.locator("h1")).to_have_text("Monday 14 June 2021")
    laptop.get_by_role("link", name="Today").click()
    expect(laptop.locator("h1")).to_have_text("Sunday 13 June 2021")


def test_before_working_hours_the_day_opens_on_now(demo: Server, laptop: Any) -> None:
    demo.set_clock("2021-06-13T05:30:00+12:00")
    try:
        sign_in(laptop, demo, "/web/")
        expect(laptop.locator('[data-track][data-space="C-25"] [data-now]')).to_be_in_viewport()
        assert first_hour_in_view(laptop, "x") == pytest.approx(4.5, abs=0.05)  # an hour before
    finally:
        demo.set_clock("2021-06-13T10:00:00+12:00")


def test_the_week_view_opens_on_this_week_at_working_hours(demo: Server, laptop: Any) -> None:
    demo.set_clock("2021-06-13T10:00:00+12:00")
    sign_in(laptop, demo, "/web/spaces/C-25/week")
    expect(laptop.locator("h1")).to_have_text("C-25 — week of 7 June 2021")
    expect(laptop.locator(".wk-head.today")).to_have_text("Sun 13 Jun")
    expect(laptop.locator("[data-now]")).to_be_in_viewport()
    assert first_hour_in_view(laptop, "y") == pytest.approx(WORK_STARTS_AT, abs=0.05)


def test_screenshot_of_the_demo_on_a_laptop(demo: Server, laptop: Any, tmp_path: Path) -> None:
    from tests.web.test_screenshots import keep_screenshot

    demo.set_clock("2021-06-13T10:00:00+12:00")
    sign_in(laptop, demo, "/web/")
    expect(laptop.locator("[data-now]").first).to_be_attached()
    shot = tmp_path / "demo-today.png"
    laptop.screenshot(path=str(shot))
    keep_screenshot(shot)
