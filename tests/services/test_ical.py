"""The VTIMEZONEs of calendar feeds: every onset where the zone database has it.

RFC 5545 §3.6.5: an observance's DTSTART is the onset's wall-clock time in the offset
before it (TZOFFSETFROM). No database needed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from roomline.services.ical import vtimezone


@pytest.mark.parametrize(
    ("zone", "onsets"),
    [
        pytest.param(
            "Europe/Amsterdam",
            ["2030-03-31T01:00Z", "2030-10-27T01:00Z", "2031-03-30T01:00Z", "2031-10-26T01:00Z"],
            id="Europe: 02:00 to 03:00 and back",
        ),
        pytest.param(
            "America/New_York",
            ["2030-03-10T07:00Z", "2030-11-03T06:00Z", "2031-03-09T07:00Z", "2031-11-02T06:00Z"],
            id="North America",
        ),
        pytest.param(
            "Pacific/Auckland",
            ["2030-04-06T14:00Z", "2030-09-28T14:00Z", "2031-04-05T14:00Z", "2031-09-27T14:00Z"],
            id="southern hemisphere, summer at new year",
        ),
        pytest.param(
            "Australia/Lord_Howe",
            ["2030-04-06T15:00Z", "2030-10-05T15:30Z", "2031-04-05T15:00Z", "2031-10-04T15:30Z"],
            id="half-hour switch",
        ),
        pytest.param("Asia/Kolkata", [], id="no switches"),
        pytest.param("UTC", [], id="UTC"),
    ],
)
def test_every_onset_is_in_the_offset_before_it(zone: str, onsets: list[str]) -> None:
    info = ZoneInfo(zone)
    component = vtimezone(zone, 2030, 2031)
    assert str(component["TZID"]) == zone
    first, *changes = component.subcomponents
    start = datetime(2030, 1, 1, tzinfo=UTC)
    assert first["DTSTART"].dt == (start + start.astimezone(info).utcoffset()).replace(tzinfo=None)
    found = []
    for observance in changes:
        before = observance["TZOFFSETFROM"].td
        after = observance["TZOFFSETTO"].td
        onset = (observance["DTSTART"].dt - before).replace(tzinfo=UTC)
        assert (onset - timedelta(seconds=1)).astimezone(info).utcoffset() == before
        assert onset.astimezone(info).utcoffset() == after
        summer = bool(onset.astimezone(info).dst())
        assert observance.name == ("DAYLIGHT" if summer else "STANDARD")
        assert str(observance["TZNAME"]) == onset.astimezone(info).tzname()
        found.append(onset.strftime("%Y-%m-%dT%H:%MZ"))
    assert found == onsets


def test_the_text_is_the_same_every_time() -> None:
    # The feed's ETag depends on it: no "now" anywhere in the component.
    vtimezone.cache_clear()
    once = vtimezone("Europe/Amsterdam", 2030, 2031).to_ical()
    vtimezone.cache_clear()
    assert vtimezone("Europe/Amsterdam", 2030, 2031).to_ical() == once
    assert b"DTSTART:20300331T020000" in once  # not 03:00, the new offset's wall clock
