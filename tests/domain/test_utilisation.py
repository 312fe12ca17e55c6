"""The utilisation arithmetic without a database: working hours, windows over clock
changes, clipping to working hours, and the busy hours of the week."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from roomline.domain.errors import InvalidParameter
from roomline.domain.utilisation import (
    CANCELLED,
    CHECKED_IN,
    LATE,
    RELEASED,
    Calendar,
    band_of,
    epoch,
    figures,
    local_midnight,
    parse_working_hours,
    peak_hour,
    tally_space,
    working_windows,
    zone_offsets,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
EVERY_DAY = parse_working_hours("mon-sun 08:00-18:00")


def at(text: str) -> int:
    return epoch(datetime.fromisoformat(text).astimezone(UTC))


@pytest.mark.parametrize(
    ("text", "monday", "saturday"),
    [
        pytest.param("mon-fri 08:00-18:00", ((480, 1080),), (), id="the default"),
        pytest.param(
            "mon,sat 09:00-12:00,13:00-17:00",
            ((540, 720), (780, 1020)),
            ((540, 720), (780, 1020)),
            id="a list of days and two ranges",
        ),
        pytest.param("MON-SUN 00:00-24:00", ((0, 1440),), ((0, 1440),), id="all day, any case"),
        pytest.param(
            "mon 08:00-12:00; mon 13:00-17:00",
            ((480, 720), (780, 1020)),
            (),
            id="two parts, one day",
        ),
        pytest.param(" sat 10:00-11:00 ;", (), ((600, 660),), id="blanks and an empty part"),
    ],
)
def test_working_hours_are_read(text: str, monday: tuple, saturday: tuple) -> None:
    hours = parse_working_hours(text)
    assert hours.days[0] == monday
    assert hours.days[5] == saturday


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "are empty", id="empty"),
        pytest.param("mon-fri", "is not 'days HH:MM-HH:MM'", id="no times"),
        pytest.param("moon 08:00-18:00", "day 'moon' is not one of", id="unknown day"),
        pytest.param("fri-mon 08:00-18:00", "runs backwards", id="backwards days"),
        pytest.param("mon 8:00-18:00", "is not HH:MM-HH:MM", id="one-digit hour"),
        pytest.param("mon 08:00-24:30", "is not a time of day", id="past midnight"),
        pytest.param("mon 08:60-09:00", "is not a time of day", id="minute 60"),
        pytest.param("mon 18:00-08:00", "ends before it starts", id="backwards times"),
        pytest.param("mon-fri 08:00-12:00; wed 11:00-13:00", "overlap on wed", id="overlapping"),
    ],
)
def test_bad_working_hours_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        parse_working_hours(text)


@pytest.mark.parametrize(
    ("day", "wall_clock_hours", "offset"),
    [
        pytest.param(date(2030, 3, 31), 23, "+02:00", id="summer time starts: a 23-hour day"),
        pytest.param(date(2030, 10, 27), 25, "+01:00", id="summer time ends: a 25-hour day"),
        pytest.param(date(2030, 3, 30), 24, "+01:00", id="an ordinary day"),
    ],
)
def test_a_day_with_a_clock_change_has_the_same_working_hours(
    day: date, wall_clock_hours: int, offset: str
) -> None:
    following = date.fromordinal(day.toordinal() + 1)
    length = local_midnight(following, AMSTERDAM) - local_midnight(day, AMSTERDAM)
    assert length == wall_clock_hours * 3600
    windows = working_windows(EVERY_DAY, day, following, AMSTERDAM)
    assert windows.seconds == 10 * 3600
    assert windows.starts == [at(f"{day}T08:00:00{offset}")]


def test_a_working_range_in_the_skipped_hour_starts_when_it_ends() -> None:
    night = parse_working_hours("sun 02:30-04:00")
    windows = working_windows(night, date(2030, 3, 31), date(2030, 4, 1), AMSTERDAM)
    assert windows.starts == [at("2030-03-31T03:30:00+02:00")]
    assert windows.seconds == 30 * 60


def test_ranges_that_meet_at_midnight_make_one_window() -> None:
    nights = parse_working_hours("mon 22:00-24:00; tue 00:00-06:00")
    windows = working_windows(nights, date(2030, 1, 7), date(2030, 1, 9), AMSTERDAM)
    assert len(windows.starts) == 1 and windows.seconds == 8 * 3600


@pytest.mark.parametrize(
    ("start", "end", "inside"),
    [
        pytest.param("07:00", "08:00", 0, id="before, touching"),
        pytest.param("07:30", "09:00", 3600, id="across the start"),
        pytest.param("17:00", "19:00", 3600, id="across the end"),
        pytest.param("09:00", "10:30", 5400, id="inside"),
        pytest.param("18:00", "20:00", 0, id="after, touching"),
    ],
)
def test_only_the_part_inside_working_hours_counts(start: str, end: str, inside: int) -> None:
    windows = working_windows(EVERY_DAY, date(2030, 1, 7), date(2030, 1, 8), AMSTERDAM)
    day = "2030-01-07T{}:00+01:00"
    assert windows.inside(at(day.format(start)), at(day.format(end))) == inside


def test_busy_hours_follow_local_time_across_the_clock_change() -> None:
    first, last = (
        local_midnight(date(2030, 3, 30), AMSTERDAM),
        local_midnight(date(2030, 4, 1), AMSTERDAM),
    )
    calendar = Calendar(
        first,
        last,
        working_windows(EVERY_DAY, date(2030, 3, 30), date(2030, 4, 1), AMSTERDAM),
        zone_offsets(AMSTERDAM, first, last),
    )
    # Saturday 23:00 to Sunday 04:00 summer time: four real hours (02:00-03:00 is skipped).
    start, end = at("2030-03-30T23:00:00+01:00"), at("2030-03-31T04:00:00+02:00")
    created = at("2030-03-01T00:00:00+01:00")
    tally = tally_space([("S", start, end, 0, 0, 0, created)], calendar, 6)
    saturday, sunday = 5 * 24, 6 * 24
    assert {slot: seconds for slot, seconds in enumerate(tally.busy) if seconds} == {
        saturday + 23: 3600,
        sunday + 0: 3600,
        sunday + 1: 3600,
        sunday + 3: 3600,
    }
    assert tally.booked == 0 and tally.length == 4 * 3600
    values = figures(tally)
    assert values["peak_hour"] == "Sat 23:00"
    assert values["working_hours"] == 20.0  # two days of ten hours, one of them 23 h long
    assert values["capacity_5_8"] == 1


def test_a_release_is_not_counted_as_a_cancellation() -> None:
    first, last = at("2030-01-07T00:00:00+01:00"), at("2030-01-08T00:00:00+01:00")
    calendar = Calendar(
        first,
        last,
        working_windows(EVERY_DAY, date(2030, 1, 7), date(2030, 1, 8), AMSTERDAM),
        zone_offsets(AMSTERDAM, first, last),
    )
    start, end = at("2030-01-07T09:00:00+01:00"), at("2030-01-07T10:00:00+01:00")
    rows = [
        ("S", start, end, 0, 0, CANCELLED | RELEASED, first),
        ("S", start + 7200, end + 7200, 0, 0, CANCELLED | LATE, first),
        ("S", start + 14400, end + 14400, 0, 0, CHECKED_IN, first),
    ]
    values = figures(tally_space(rows, calendar, None))
    assert (values["released"], values["cancelled"], values["late_cancelled"]) == (1, 1, 1)
    assert values["check_in_tracked"] == 2
    assert values["no_show_rate_percent"] == 50.0
    assert values["booked_hours"] == 1.0  # the one checked in


@pytest.mark.parametrize(
    ("capacity", "band"),
    [
        (None, "capacity_unknown"),
        (0, "capacity_unknown"),
        (4, "capacity_1_4"),
        (5, "capacity_5_8"),
        (40, "capacity_17_40"),
        (41, "capacity_41_up"),
    ],
)
def test_capacity_bands(capacity: int | None, band: str) -> None:
    assert band_of(capacity) == band


def test_the_peak_hour_is_the_earliest_of_equals() -> None:
    busy = [0] * 168
    busy[24 + 10] = busy[14] = 3600
    assert peak_hour(busy) == "Mon 14:00"
    assert peak_hour([0] * 168) is None
