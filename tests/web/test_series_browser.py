"""The booking dialog's "Repeat" choice and a series' page, in a real browser.

The module's demo server has its clock pinned at 2030-01-07 09:00 UTC; the series here
starts the Monday after, 2030-01-14, in Amsterdam.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from playwright.sync_api import expect

from tests.conftest import World
from tests.support import Server
from tests.web.test_browser import collection, pick, sign_in

MONDAY = "2030-01-14"


def test_book_a_weekly_series_with_a_preview_then_follow_and_cancel_it(
    server: Server, world: World, page: Any
) -> None:
    space = world.space(description="Project room")
    person = world.person("Bakker, M.")
    # 11:00-12:00 Amsterdam time on the second Monday is taken.
    world.reservation(
        space, datetime(2030, 1, 21, 10, tzinfo=UTC), datetime(2030, 1, 21, 11, tzinfo=UTC)
    )
    sign_in(page, server, f"/web/?date={MONDAY}")
    pick(page, space.id, 11, 12)
    dialog = page.locator("#new-reservation")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Applicant (person id)").fill(person.id)
    dialog.get_by_label("Description").fill("Weekly sync")

    # Nothing of the Repeat choice shows until the reservation repeats.
    expect(dialog.get_by_label("Occurrences")).to_be_hidden()
    expect(dialog.get_by_role("group", name="On days")).to_be_hidden()
    dialog.get_by_label("Repeats").select_option("weekly")
    expect(dialog.get_by_role("group", name="On days")).to_be_visible()
    expect(dialog.get_by_label("Until")).to_be_hidden()
    dialog.get_by_role("checkbox", name="Mon").check()
    dialog.get_by_label("Occurrences").fill("3")

    dialog.get_by_role("button", name="Preview occurrences").click()
    result = dialog.locator("[data-preview-result]")
    expect(result.locator("p")).to_have_text(
        "2 to book, 1 taken or skipped (FREQ=WEEKLY;BYDAY=MO;COUNT=3)."
    )
    expect(result.locator("ol.booked li")).to_have_text(
        ["2030-01-14 11:00–12:00", "2030-01-28 11:00–12:00"]
    )
    expect(result.locator("ul.skipped li")).to_have_text(["2030-01-21 11:00–12:00 — taken"])
    assert len(collection_between(server, space.id)) == 1  # a preview stores nothing

    dialog.get_by_role("button", name="Book").click()
    flash = page.locator(".flash")
    expect(flash).to_have_text(re.compile(r"Series \d+ booked: 2 occurrences, 1 skipped\."))
    series_id = re.findall(r"Series (\d+)", flash.inner_text())[0]
    expect(page).to_have_url(f"{server.base_url}/web/series/{series_id}")
    expect(page.locator("[data-field=rrule]")).to_have_text("FREQ=WEEKLY;BYDAY=MO;COUNT=3")
    rows = page.locator("tr[data-occurrence]")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Mon 2030-01-14 11:00")
    expect(rows.nth(1)).to_contain_text("Mon 2030-01-28 11:00")
    expect(page.locator("ul.skipped li")).to_contain_text("Project room is not available")
    stored = collection_between(server, space.id)
    assert [(item["StartTime"], item["Description"]) for item in stored] == [
        ("2030-01-14T11:00:00.000000+01:00", "Weekly sync"),
        ("2030-01-21T11:00:00.000000+01:00", "Stored directly"),
        ("2030-01-28T11:00:00.000000+01:00", "Weekly sync"),
    ]

    # Each occurrence's page links to its series.
    rows.nth(0).get_by_role("link").click()
    expect(page.locator("h1")).to_have_text(re.compile(r"Reservation \d{11}"))
    page.locator("[data-series-link]").click()
    expect(page).to_have_url(f"{server.base_url}/web/series/{series_id}")

    page.get_by_text("Cancel the series…").click()
    page.get_by_role("button", name="Yes, cancel the series").click()
    expect(page.locator(".flash")).to_have_text(f"Cancelled 2 occurrences of series {series_id}.")
    expect(page.locator("tr.cancelled")).to_have_count(2)
    assert [item["Description"] for item in collection_between(server, space.id)] == [
        "Stored directly"
    ]


def test_a_refused_series_keeps_the_repeat_choice_and_lists_the_conflicts(
    server: Server, world: World, page: Any
) -> None:
    space = world.space(description="Quiet room")
    person = world.person()
    world.reservation(
        space, datetime(2030, 1, 15, 10, tzinfo=UTC), datetime(2030, 1, 15, 11, tzinfo=UTC)
    )
    sign_in(page, server, f"/web/?date={MONDAY}")
    pick(page, space.id, 11, 12)
    dialog = page.locator("#new-reservation")
    dialog.get_by_label("Applicant (person id)").fill(person.id)
    dialog.get_by_label("Repeats").select_option("daily")
    dialog.get_by_label("Stops").select_option("until")
    dialog.get_by_label("Until").fill("2030-01-16")
    dialog.get_by_label("If a slot is taken").select_option("fail")
    dialog.get_by_role("button", name="Book").click()
    error = page.locator("#new-reservation [role=alert]")
    expect(error).to_be_visible()
    expect(error.locator(".error-details li")).to_have_text(
        ["2030-01-15T11:00:00+01:00 – 2030-01-15T12:00:00+01:00"]
    )
    expect(dialog.get_by_label("Repeats")).to_have_value("daily")
    expect(dialog.get_by_label("Until")).to_have_value("2030-01-16")
    assert len(collection_between(server, space.id)) == 1


def collection_between(server: Server, space_id: str) -> list[dict[str, str]]:
    """The space's reservations in the weeks of the series, as the Ultimo Get lists them."""
    return collection(server, space_id, "2030-01-13 00:00:00", "2030-02-01 00:00:00")
