"""Expanding a series' RRULE in the space's zone: DST both ways, ordinals, month ends,
exdates, UNTIL, and the rules a series must keep."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from roomline.domain.errors import InvalidRecurrence
from roomline.domain.recurrence import Expansion, expand

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
AUCKLAND = ZoneInfo("Pacific/Auckland")


def expanded(
    rule: str,
    first: str,
    zone: ZoneInfo,
    *,
    minutes: int = 60,
    exdates: tuple[str, ...] = (),
    max_occurrences: int = 500,
) -> Expansion:
    """Expand ``rule`` from the wall-clock ``first`` start in ``zone``."""
    start = datetime.fromisoformat(first).replace(tzinfo=zone)
    return expand(
        rule,
        start,
        start + timedelta(minutes=minutes),
        zone,
        max_occurrences=max_occurrences,
        exdates=[datetime.fromisoformat(moment) for moment in exdates],
    )


def written(expansion: Expansion, zone: ZoneInfo) -> list[str]:
    """The occurrences' starts and ends as ISO text in ``zone``."""
    return [
        f"{o.start.astimezone(zone).isoformat()}/{o.end.astimezone(zone).time().isoformat()}"
        for o in expansion.occurrences
    ]


@pytest.mark.parametrize(
    ("rule", "first", "zone", "expected"),
    [
        pytest.param(
            "FREQ=DAILY;COUNT=3",
            "2030-03-30T09:00:00",
            AMSTERDAM,
            [
                "2030-03-30T09:00:00+01:00/10:00:00",
                "2030-03-31T09:00:00+02:00/10:00:00",
                "2030-04-01T09:00:00+02:00/10:00:00",
            ],
            id="Amsterdam spring forward keeps 09:00",
        ),
        pytest.param(
            "FREQ=WEEKLY;BYDAY=SA,SU;COUNT=3",
            "2030-10-26T09:00:00",
            AMSTERDAM,
            [
                "2030-10-26T09:00:00+02:00/10:00:00",
                "2030-10-27T09:00:00+01:00/10:00:00",
                "2030-11-02T09:00:00+01:00/10:00:00",
            ],
            id="Amsterdam fall back keeps 09:00",
        ),
        pytest.param(
            "FREQ=DAILY;COUNT=2",
            "2030-09-28T09:00:00",
            AUCKLAND,
            ["2030-09-28T09:00:00+12:00/10:00:00", "2030-09-29T09:00:00+13:00/10:00:00"],
            id="Auckland spring forward (September) keeps 09:00",
        ),
        pytest.param(
            "FREQ=DAILY;COUNT=2",
            "2030-04-06T09:00:00",
            AUCKLAND,
            ["2030-04-06T09:00:00+13:00/10:00:00", "2030-04-07T09:00:00+12:00/10:00:00"],
            id="Auckland fall back (April) keeps 09:00",
        ),
        pytest.param(
            "FREQ=DAILY;COUNT=2",
            "2030-10-26T02:30:00",
            AMSTERDAM,
            ["2030-10-26T02:30:00+02:00/03:30:00", "2030-10-27T02:30:00+02:00/03:30:00"],
            id="Amsterdam ambiguous 02:30 takes the earlier instant",
        ),
        pytest.param(
            "FREQ=DAILY;COUNT=2",
            "2030-04-06T02:30:00",
            AUCKLAND,
            ["2030-04-06T02:30:00+13:00/03:30:00", "2030-04-07T02:30:00+13:00/03:30:00"],
            id="Auckland ambiguous 02:30 takes the earlier instant",
        ),
        pytest.param(
            "FREQ=MONTHLY;BYDAY=2TU;COUNT=3",
            "2030-01-01T10:00:00",
            AMSTERDAM,
            [
                "2030-01-08T10:00:00+01:00/11:00:00",
                "2030-02-12T10:00:00+01:00/11:00:00",
                "2030-03-12T10:00:00+01:00/11:00:00",
            ],
            id="second Tuesday",
        ),
        pytest.param(
            "FREQ=MONTHLY;BYDAY=-1FR;COUNT=3",
            "2030-01-01T16:00:00",
            AUCKLAND,
            [
                "2030-01-25T16:00:00+13:00/17:00:00",
                "2030-02-22T16:00:00+13:00/17:00:00",
                "2030-03-29T16:00:00+13:00/17:00:00",
            ],
            id="last Friday",
        ),
        pytest.param(
            "FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3",
            "2030-01-31T09:00:00",
            AMSTERDAM,
            [
                "2030-01-31T09:00:00+01:00/10:00:00",
                "2030-03-31T09:00:00+02:00/10:00:00",
                "2030-05-31T09:00:00+02:00/10:00:00",
            ],
            id="the 31st skips shorter months",
        ),
        pytest.param(
            "FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=3",
            "2030-01-31T09:00:00",
            AMSTERDAM,
            [
                "2030-01-31T09:00:00+01:00/10:00:00",
                "2030-02-28T09:00:00+01:00/10:00:00",
                "2030-03-31T09:00:00+02:00/10:00:00",
            ],
            id="the last day of each month",
        ),
        pytest.param(
            "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=4",
            "2030-01-07T09:00:00",
            AMSTERDAM,
            [
                "2030-01-07T09:00:00+01:00/10:00:00",
                "2030-01-10T09:00:00+01:00/10:00:00",
                "2030-01-21T09:00:00+01:00/10:00:00",
                "2030-01-24T09:00:00+01:00/10:00:00",
            ],
            id="every other week on two days, with the RRULE: prefix",
        ),
        pytest.param(
            "FREQ=DAILY;UNTIL=20300114",
            "2030-01-13T09:00:00",
            AUCKLAND,
            ["2030-01-13T09:00:00+13:00/10:00:00", "2030-01-14T09:00:00+13:00/10:00:00"],
            id="UNTIL as a date includes that day in the space's zone",
        ),
        pytest.param(
            "FREQ=DAILY;UNTIL=20300113T200000Z",
            "2030-01-13T09:00:00",
            AUCKLAND,
            ["2030-01-13T09:00:00+13:00/10:00:00", "2030-01-14T09:00:00+13:00/10:00:00"],
            id="UNTIL in UTC is that instant",
        ),
        pytest.param(
            "FREQ=DAILY;UNTIL=20300114T085959",
            "2030-01-13T09:00:00",
            AUCKLAND,
            ["2030-01-13T09:00:00+13:00/10:00:00"],
            id="UNTIL without Z is wall-clock time in the space's zone",
        ),
    ],
)
def test_occurrences_keep_their_wall_clock_time(
    rule: str, first: str, zone: ZoneInfo, expected: list[str]
) -> None:
    expansion = expanded(rule, first, zone)
    assert written(expansion, zone) == expected
    assert expansion.gaps == []


@pytest.mark.parametrize(
    ("first", "zone", "gap"),
    [
        pytest.param("2030-03-30T02:30:00", AMSTERDAM, "2030-03-31T02:30:00", id="Amsterdam"),
        pytest.param("2030-09-28T02:30:00", AUCKLAND, "2030-09-29T02:30:00", id="Auckland"),
    ],
)
def test_an_occurrence_in_the_spring_forward_gap_is_left_out_and_reported(
    first: str, zone: ZoneInfo, gap: str
) -> None:
    expansion = expanded("FREQ=DAILY;COUNT=3", first, zone, minutes=30)
    assert len(expansion.occurrences) == 2
    assert [(g.start.isoformat(), g.end.isoformat()) for g in expansion.gaps] == [
        (gap, gap.replace("02:30", "03:00"))
    ]
    assert expansion.gaps[0].message == (
        f"{gap} to {gap.replace('02:30', '03:00')} does not exist in time zone {zone.key}: "
        "the clocks skip that hour when daylight saving time starts."
    )


def test_an_occurrence_ending_in_the_gap_is_left_out_too() -> None:
    expansion = expanded("FREQ=DAILY;COUNT=2", "2030-03-30T01:30:00", AMSTERDAM, minutes=60)
    assert [g.end.isoformat() for g in expansion.gaps] == ["2030-03-31T02:30:00"]


def test_exdates_leave_out_the_occurrences_starting_then() -> None:
    expansion = expanded(
        "FREQ=WEEKLY;COUNT=4",
        "2030-03-18T09:00:00",
        AMSTERDAM,
        exdates=("2030-03-25T08:00:00+00:00", "2030-04-08T09:00:00+02:00"),
    )
    assert [o.start.astimezone(AMSTERDAM).date().isoformat() for o in expansion.occurrences] == [
        "2030-03-18",
        "2030-04-01",
    ]


@pytest.mark.parametrize(
    ("rule", "exdates", "message"),
    [
        pytest.param(
            "FREQ=DAILY",
            (),
            "rrule 'FREQ=DAILY' must end: give it a COUNT or an UNTIL (one of them, not both).",
            id="no end",
        ),
        pytest.param(
            "FREQ=DAILY;COUNT=2;UNTIL=20300301",
            (),
            "rrule 'FREQ=DAILY;COUNT=2;UNTIL=20300301' must end: give it a COUNT or an UNTIL "
            "(one of them, not both).",
            id="both ends",
        ),
        pytest.param(
            "FREQ=HOURLY;COUNT=2",
            (),
            "rrule 'FREQ=HOURLY;COUNT=2' must have FREQ=DAILY, FREQ=WEEKLY or FREQ=MONTHLY.",
            id="hourly",
        ),
        pytest.param(
            "FREQ=DAILY;BYHOUR=9;COUNT=2",
            (),
            "rrule 'FREQ=DAILY;BYHOUR=9;COUNT=2': BYHOUR is not supported; use FREQ, INTERVAL, "
            "BYDAY, BYMONTHDAY, BYMONTH, BYSETPOS, COUNT, UNTIL, WKST.",
            id="BYHOUR",
        ),
        pytest.param(
            "FREQ=DAILY;COUNT=11",
            (),
            "rrule 'FREQ=DAILY;COUNT=11' yields more than 10 occurrences, the most a series "
            "may have; use a smaller COUNT or an earlier UNTIL, or book two series.",
            id="too many",
        ),
        pytest.param(
            "FREQ=DAILY;UNTIL=20300210",
            (),
            "rrule 'FREQ=DAILY;UNTIL=20300210' yields more than 10 occurrences, the most a "
            "series may have; use a smaller COUNT or an earlier UNTIL, or book two series.",
            id="too many until UNTIL",
        ),
        pytest.param(
            "FREQ=DAILY;COUNT=1",
            ("2030-01-07T08:00:00+00:00",),
            "rrule 'FREQ=DAILY;COUNT=1' yields no occurrences that exist.",
            id="none left",
        ),
        pytest.param(
            "FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=2;COUNT=1",
            (),
            "rrule 'FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=2;COUNT=1' does not reach its COUNT "
            "within 10 years of the first occurrence.",
            id="a day that never comes",
        ),
        pytest.param(
            "FREQ=DAILY;UNTIL=20500101",
            (),
            "rrule 'FREQ=DAILY;UNTIL=20500101' ends more than 10 years after the first occurrence.",
            id="too far",
        ),
        pytest.param(
            "FREQ=DAILY;UNTIL=2030-02-01",
            (),
            "rrule 'FREQ=DAILY;UNTIL=2030-02-01': UNTIL=2030-02-01 is not a date (20300131) or "
            "a date and time (20300131T170000, or 20300131T160000Z in UTC).",
            id="UNTIL written wrongly",
        ),
        pytest.param(
            "FREQ=DAILY;COUNT=0",
            (),
            "rrule 'FREQ=DAILY;COUNT=0': COUNT=0 is not a positive number.",
            id="COUNT zero",
        ),
        pytest.param(
            "FREQ=DAILY;INTERVAL=0;COUNT=2",
            (),
            "rrule 'FREQ=DAILY;INTERVAL=0;COUNT=2': INTERVAL=0 is not a positive number.",
            id="INTERVAL zero",
        ),
        pytest.param(
            "FREQ=WEEKLY;INTERVAL=-1;UNTIL=20300301",
            (),
            "rrule 'FREQ=WEEKLY;INTERVAL=-1;UNTIL=20300301': INTERVAL=-1 is not a positive number.",
            id="INTERVAL negative",
        ),
        pytest.param(
            "FREQ=DAILY;COUNT",
            (),
            "rrule 'FREQ=DAILY;COUNT': 'COUNT' is not NAME=VALUE.",
            id="no value",
        ),
        pytest.param(
            "FREQ=DAILY;COUNT=2",
            ("2030-01-07T09:00:00+00:00",),
            "exdates 2030-01-07T09:00:00+00:00 are not the start of any occurrence of rrule "
            "'FREQ=DAILY;COUNT=2'.",
            id="exdate of no occurrence",
        ),
    ],
)
def test_rules_a_series_cannot_have_are_refused(
    rule: str, exdates: tuple[str, ...], message: str
) -> None:
    with pytest.raises(InvalidRecurrence) as refused:
        expanded(rule, "2030-01-07T09:00:00", AMSTERDAM, exdates=exdates, max_occurrences=10)
    assert refused.value.message == message
    assert refused.value.code == "InvalidRecurrence"
