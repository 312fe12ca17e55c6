"""A space's Subscribe link in a real browser: make a feed URL, see it served, revoke it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import icalendar
from playwright.sync_api import expect

from tests.conftest import World
from tests.support import Server
from tests.web.test_browser import sign_in


def test_subscribe_from_the_week_view_then_revoke(server: Server, world: World, page: Any) -> None:
    space = world.space(description="Calendar room")
    booked = world.reservation(
        space, datetime(2030, 1, 8, 9, tzinfo=UTC), datetime(2030, 1, 8, 10, tzinfo=UTC)
    )
    sign_in(page, server, f"/web/spaces/{space.id}/week?date=2030-01-07")
    page.get_by_role("link", name="Subscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Subscribe to {space.id} in a calendar"
    )
    expect(page.locator("tr[data-feed]")).to_have_count(0)
    page.get_by_label("Name (optional)").fill("Reception Outlook")
    page.get_by_role("button", name="Create feed URL").click()

    url = page.locator("[data-feed-url]").inner_text()
    assert url.startswith(server.base_url + "/feeds/") and url.endswith(".ics")
    webcal = page.locator("[data-webcal]")
    expect(webcal).to_have_attribute("href", "webcal://" + url.split("://", 1)[1])
    expect(page.get_by_role("button", name="Copy URL")).to_have_attribute("data-copy", url)
    row = page.locator("tr[data-feed]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Reception Outlook")
    expect(row).to_contain_text("active")

    served = httpx.get(url, timeout=30)
    assert served.status_code == 200
    (event,) = icalendar.Calendar.from_ical(served.content).walk("VEVENT")
    assert str(event["UID"]) == f"{booked:011d}@roomline"

    # Reloading shows the list, never the URL again.
    page.goto(f"{server.base_url}/web/spaces/{space.id}/subscribe")
    expect(page.locator("[data-feed-url]")).to_have_count(0)
    row.locator("summary", has_text="Revoke…").click()  # asks first
    row.get_by_role("button", name="Yes, revoke feed").click()
    expect(page.locator(".flash")).to_contain_text("revoked")
    expect(page.locator("tr[data-feed]")).to_contain_text("revoked")
    assert httpx.get(url, timeout=30).status_code == 404
