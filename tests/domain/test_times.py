"""Reading and writing times: formats, zones, the DST gap and overlap. No database."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roomline.domain.errors import InvalidDateTime, InvalidParameter
from roomline.domain.times import (
    format_instant,
    format_utc_text,
    parse_instant,
    utc_text,
    zone_named,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
AUCKLAND = ZoneInfo("Pacific/Auckland")


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        pytest.param(
            "2021-06-14 12:00:00",
            AUCKLAND,
            datetime(2021, 6, 14, 0, 0, tzinfo=UTC),
            id="documented wall-clock",
        ),
        pytest.param(
            "2018-08-20T15:17:59Z",
            AMSTERDAM,
            datetime(2018, 8, 20, 15, 17, 59, tzinfo=UTC),
            id="documented UTC",
        ),
        pytest.param(
            "2021-06-14T12:00:00",
            AMSTERDAM,
            datetime(2021, 6, 14, 10, 0, tzinfo=UTC),
            id="T without zone is wall-clock",
        ),
        pytest.param(
            "2021-06-14T12:00:00+05:30",
            AMSTERDAM,
            datetime(2021, 6, 14, 6, 30, tzinfo=UTC),
            id="explicit offset",
        ),
        pytest.param(
            "2021-06-14T12:00:00-0300",
            AMSTERDAM,
            datetime(2021, 6, 14, 15, 0, tzinfo=UTC),
            id="offset without colon",
        ),
        pytest.param(
            "2021-06-14T12:00:00.1234567+02:00",
            AMSTERDAM,
            datetime(2021, 6, 14, 10, 0, 0, 123456, tzinfo=UTC),
            id="DateTimeOffset's seven digits",
        ),
        pytest.param(
            "2021-06-14 12:00:00.5",
            AMSTERDAM,
            datetime(2021, 6, 14, 10, 0, 0, 500000, tzinfo=UTC),
            id="fractional wall-clock",
        ),
        pytest.param(
            "2021-01-14 12:00:00",
            AMSTERDAM,
            datetime(2021, 1, 14, 11, 0, tzinfo=UTC),
            id="winter time",
        ),
        pytest.param(
            "2021-10-31 02:30:00",
            AMSTERDAM,
            datetime(2021, 10, 31, 0, 30, tzinfo=UTC),
            id="fall-back hour means the earlier instant",
        ),
        pytest.param(
            "2021-10-31 03:00:00",
            AMSTERDAM,
            datetime(2021, 10, 31, 2, 0, tzinfo=UTC),
            id="just after fall-back",
        ),
        pytest.param(
            "2021-03-28 03:00:00",
            AMSTERDAM,
            datetime(2021, 3, 28, 1, 0, tzinfo=UTC),
            id="just after the gap",
        ),
        pytest.param(
            "2021-03-28 01:59:59",
            AMSTERDAM,
            datetime(2021, 3, 28, 0, 59, 59, tzinfo=UTC),
            id="just before the gap",
        ),
        pytest.param(
            "2024-02-29 10:00:00", AMSTERDAM, datetime(2024, 2, 29, 9, 0, tzinfo=UTC), id="leap day"
        ),
        pytest.param(
            "9999-01-01T13:59:59+14:00",
            AMSTERDAM,
            datetime(9998, 12, 31, 23, 59, 59, tzinfo=UTC),
            id="the last instant, written in +14:00",
        ),
        pytest.param(
            "1899-12-31 13:00:00",
            ZoneInfo("Pacific/Pago_Pago"),
            datetime(1900, 1, 1, 0, 22, 48, tzinfo=UTC),
            id="the first hour, on a wall clock still in 1899",
        ),
        pytest.param(
            "1937-07-01 00:00:28",
            AMSTERDAM,
            datetime(1937, 6, 30, 22, 40, 28, tzinfo=UTC),
            id="just after a 28-second gap",
        ),
    ],
)
def test_accepted_times(text: str, zone: ZoneInfo, expected: datetime) -> None:
    assert parse_instant("StartTime", text, zone) == expected


@pytest.mark.parametrize(
    ("text", "message_part"),
    [
        pytest.param(
            "2021-03-28 02:30:00",
            "does not exist in time zone Europe/Amsterdam",
            id="spring-forward gap",
        ),
        pytest.param(
            "1937-07-01 00:00:27",
            "does not exist in time zone Europe/Amsterdam",
            id="28-second gap when Amsterdam rounded its offset",
        ),
        pytest.param("2021-02-30 10:00:00", "not a real calendar date", id="Feb 30"),
        pytest.param(
            "2023-02-29 10:00:00", "not a real calendar date", id="Feb 29 in a common year"
        ),
        pytest.param("2021-06-14 24:00:00", "not a real calendar date", id="hour 24"),
        pytest.param("2021-06-14 12:60:00", "not a real calendar date", id="minute 60"),
        pytest.param("2021-06-14", "is not a valid date and time", id="date only"),
        pytest.param("14-06-2021 12:00:00", "is not a valid date and time", id="day first"),
        pytest.param("2021-06-14 12:00", "is not a valid date and time", id="no seconds"),
        pytest.param("2021/06/14 12:00:00", "is not a valid date and time", id="slashes"),
        pytest.param("", "is not a valid date and time", id="empty"),
        pytest.param("tomorrow", "is not a valid date and time", id="words"),
        pytest.param(
            "2021-06-14T12:00:00+25:00", "impossible UTC offset", id="offset beyond 18 hours"
        ),
        pytest.param("0001-01-01 00:00:00", "out of range", id="year 1"),
        pytest.param("9999-12-31 23:59:59", "out of range", id="year 9999"),
        pytest.param("9999-01-01T00:00:00Z", "out of range", id="just past the last instant"),
        pytest.param("1900-01-01T00:30:00+01:00", "out of range", id="before the first instant"),
        pytest.param("9999-12-31T23:00:00-10:00", "out of range", id="past the calendar in UTC"),
        pytest.param("0001-01-01T00:00:00+10:00", "out of range", id="before the calendar in UTC"),
        pytest.param("2021-06-14 12:00:00\x00", "is not a valid date and time", id="NUL"),
    ],
)
def test_refused_times(text: str, message_part: str) -> None:
    with pytest.raises(InvalidDateTime) as refused:
        parse_instant("StartTime", text, AMSTERDAM)
    assert message_part in refused.value.message
    assert refused.value.message.startswith("StartTime")


def test_refusal_names_the_allowed_formats() -> None:
    with pytest.raises(InvalidDateTime) as refused:
        parse_instant("Till", "next week", AMSTERDAM)
    assert "yyyy-MM-dd HH:mm:ss" in refused.value.message
    assert "yyyy-MM-ddTHH:mm:ssZ" in refused.value.message


@pytest.mark.parametrize(
    ("instant", "zone", "expected"),
    [
        pytest.param(
            datetime(2021, 4, 19, 20, 0, tzinfo=UTC),
            AUCKLAND,
            "2021-04-20T08:00:00.000000+12:00",
            id="documented",
        ),
        pytest.param(
            datetime(2021, 1, 5, 20, 0, tzinfo=UTC),
            AUCKLAND,
            "2021-01-06T09:00:00.000000+13:00",
            id="NZ daylight time",
        ),
        pytest.param(
            datetime(2021, 10, 31, 0, 30, tzinfo=UTC),
            AMSTERDAM,
            "2021-10-31T02:30:00.000000+02:00",
            id="first 02:30 on fall-back day",
        ),
        pytest.param(
            datetime(2021, 10, 31, 1, 30, tzinfo=UTC),
            AMSTERDAM,
            "2021-10-31T02:30:00.000000+01:00",
            id="second 02:30 on fall-back day",
        ),
        pytest.param(
            datetime(2021, 6, 1, 0, 0, 0, 1, tzinfo=UTC),
            ZoneInfo("UTC"),
            "2021-06-01T00:00:00.000001+00:00",
            id="microseconds",
        ),
    ],
)
def test_formatting(instant: datetime, zone: ZoneInfo, expected: str) -> None:
    assert format_instant(instant, zone) == expected


def test_unknown_zone_is_refused() -> None:
    with pytest.raises(InvalidParameter):
        zone_named("Mars/Olympus_Mons")


# A Get formats stored UTC text directly (format_utc_text); it must write exactly what
# format_instant writes for the same instant, in every zone, across DST changes and in
# zones whose historic offsets have seconds (local mean time).
FORMAT_ZONES = [
    "UTC",
    "Europe/Amsterdam",
    "Pacific/Auckland",
    "Asia/Kolkata",
    "America/St_Johns",
    "Africa/Monrovia",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
]


@given(
    instant=st.datetimes(
        min_value=datetime(1900, 1, 2), max_value=datetime(9998, 12, 30), timezones=st.just(UTC)
    ),
    zone_name=st.sampled_from(FORMAT_ZONES),
)
@settings(max_examples=400, deadline=None)
def test_formatting_utc_text_matches_formatting_the_instant(
    instant: datetime, zone_name: str
) -> None:
    zone = ZoneInfo(zone_name)
    assert format_utc_text(utc_text(instant), zone) == format_instant(instant, zone)


@pytest.mark.parametrize(
    ("instant", "zone", "expected"),
    [
        pytest.param(
            datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC),
            AMSTERDAM,
            "2026-03-29T01:59:59.999999+01:00",
            id="last microsecond before the spring-forward",
        ),
        pytest.param(
            datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
            AMSTERDAM,
            "2026-03-29T03:00:00.000000+02:00",
            id="first instant after the spring-forward",
        ),
        pytest.param(
            datetime(1910, 5, 1, 12, 3, 4, 5, tzinfo=UTC),
            AMSTERDAM,
            "1910-05-01T12:23:04.000005+00:20",
            id="local mean time +00:19:32 rounded to the minute",
        ),
    ],
)
def test_formatting_utc_text(instant: datetime, zone: ZoneInfo, expected: str) -> None:
    assert utc_text(instant) == instant.strftime("%Y-%m-%d %H:%M:%S.%f")
    assert format_utc_text(utc_text(instant), zone) == expected
