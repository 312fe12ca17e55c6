"""Recurring reservations: an RFC 5545 RRULE expanded into occurrences (SPEC §7).

python-dateutil expands the rule over naive wall-clock times in the space's zone; this
module adds what a room booking needs around it. Invariants:

- every occurrence keeps the first one's wall-clock start and end in the space's zone
  (09:00-10:00 stays 09:00-10:00 across DST); its instants are UTC;
- an occurrence whose start or end falls in a spring-forward gap does not exist: it is
  left out and reported in ``gaps``; one in the fall-back hour takes the earlier instant
  (SPEC §3);
- UNTIL is read in the space's zone: a date means up to the end of that day, a time
  without ``Z`` that wall-clock time, one with ``Z`` that instant;
- a rule ends (COUNT or UNTIL, not both), repeats DAILY, WEEKLY or MONTHLY, stays within
  ``MAX_SPAN_YEARS`` of its start and yields between one and ``max_occurrences``
  occurrences; ``exdates`` each name one of them. Anything else is ``InvalidRecurrence``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from roomline.domain.errors import InvalidRecurrence
from roomline.domain.times import wall_clock_instant

FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY")
# The parts a room booking's rule may have; BYHOUR and the like would fight the time of
# day that the first occurrence gives.
PARTS = ("FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS", "COUNT", "UNTIL", "WKST")
# A rule no date satisfies (BYMONTHDAY=31;BYMONTH=2) makes dateutil search up to the year
# 9999, for seconds; no series needs to reach further than this.
MAX_SPAN_YEARS = 10
_UNTIL = re.compile(r"(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z?))?", re.ASCII)


class ConflictPolicy(enum.StrEnum):
    """What a series does with an occurrence whose slot is taken."""

    FAIL = "fail"  # store nothing and list every conflict
    SKIP = "skip"  # book the free occurrences and list the others


@dataclass(frozen=True, slots=True)
class Occurrence:
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Gap:
    """An occurrence that does not exist: its wall-clock start or end falls in a DST gap."""

    start: datetime  # naive wall-clock time in the space's zone
    end: datetime
    zone: ZoneInfo

    @property
    def message(self) -> str:
        return (
            f"{self.start.isoformat()} to {self.end.isoformat()} does not exist in time zone "
            f"{self.zone.key}: the clocks skip that hour when daylight saving time starts."
        )


@dataclass(frozen=True, slots=True)
class Expansion:
    occurrences: list[Occurrence]
    gaps: list[Gap]


def expand(
    rule: str,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    *,
    max_occurrences: int,
    exdates: Collection[datetime] = (),
) -> Expansion:
    """Expand ``rule`` from the first occurrence's ``[start, end)`` (aware instants) in
    ``zone``, leaving out the occurrences starting at an instant of ``exdates``."""
    try:
        return _expand(rule, start, end, zone, max_occurrences, exdates)
    except OverflowError as exc:  # dates past the year 9999
        raise InvalidRecurrence(f"rrule {rule!r} reaches beyond the year 9999.") from exc


def _expand(
    rule: str,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    max_occurrences: int,
    exdates: Collection[datetime],
) -> Expansion:
    first_start = start.astimezone(zone).replace(tzinfo=None)
    wall_duration = end.astimezone(zone).replace(tzinfo=None) - first_start
    left_out = set(exdates)
    # One more than may be kept, so that a rule yielding too many is noticed.
    recurrence = _parse(rule, first_start, zone, max_occurrences + len(left_out) + 1)
    occurrences: list[Occurrence] = []
    gaps: list[Gap] = []
    for local_start in recurrence:
        local_end = local_start + wall_duration
        instant = wall_clock_instant(local_start, zone)
        end_instant = wall_clock_instant(local_end, zone)
        if instant in left_out:
            left_out.discard(instant)
            continue
        if instant is None or end_instant is None:
            gaps.append(Gap(local_start, local_end, zone))
        else:
            occurrences.append(Occurrence(instant, end_instant))
        if len(occurrences) + len(gaps) > max_occurrences:
            raise InvalidRecurrence(
                f"rrule {rule!r} yields more than {max_occurrences} occurrences, the most a "
                "series may have; use a smaller COUNT or an earlier UNTIL, or book two series."
            )
    if left_out:
        listed = ", ".join(sorted(moment.isoformat() for moment in left_out))
        raise InvalidRecurrence(
            f"exdates {listed} are not the start of any occurrence of rrule {rule!r}."
        )
    if not occurrences:
        raise InvalidRecurrence(f"rrule {rule!r} yields no occurrences that exist.")
    return Expansion(occurrences, gaps)


def _parse(rule: str, first_start: datetime, zone: ZoneInfo, limit: int) -> list[datetime]:
    """Return the first ``limit`` wall-clock starts ``rule`` (with or without ``RRULE:``)
    yields."""
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :]
    parts: dict[str, str] = {}
    for part in text.split(";"):
        name, equals, value = part.partition("=")
        name = name.strip().upper()
        if not equals or not value.strip():
            raise InvalidRecurrence(f"rrule {rule!r}: {part!r} is not NAME=VALUE.")
        if name not in PARTS:
            raise InvalidRecurrence(
                f"rrule {rule!r}: {name} is not supported; use {', '.join(PARTS)}."
            )
        if name in parts:
            raise InvalidRecurrence(f"rrule {rule!r} gives {name} twice.")
        parts[name] = value.strip().upper()
    if parts.get("FREQ") not in FREQUENCIES:
        raise InvalidRecurrence(
            f"rrule {rule!r} must have FREQ={', FREQ='.join(FREQUENCIES[:-1])} "
            f"or FREQ={FREQUENCIES[-1]}."
        )
    if ("COUNT" in parts) == ("UNTIL" in parts):
        raise InvalidRecurrence(
            f"rrule {rule!r} must end: give it a COUNT or an UNTIL (one of them, not both)."
        )
    horizon = first_start + timedelta(days=365 * MAX_SPAN_YEARS + MAX_SPAN_YEARS // 4)
    until = _until(rule, parts.pop("UNTIL"), zone) if "UNTIL" in parts else horizon
    if until > horizon:
        raise InvalidRecurrence(
            f"rrule {rule!r} ends more than {MAX_SPAN_YEARS} years after the first occurrence."
        )
    # COUNT is applied here rather than by dateutil: with UNTIL beside it dateutil warns,
    # and without one it would search for a count it cannot reach up to the year 9999.
    count = _count(rule, parts.pop("COUNT")) if "COUNT" in parts else None
    if "INTERVAL" in parts:
        # dateutil repeats the first start for ever with INTERVAL=0 (a series in conflict
        # with itself) and fails on a negative one with an unrelated message.
        parts["INTERVAL"] = str(_positive(rule, "INTERVAL", parts["INTERVAL"], 10_000))
    try:
        recurrence = rrulestr(
            ";".join(f"{name}={value}" for name, value in parts.items()), dtstart=first_start
        )
        assert isinstance(recurrence, rrule)  # one RRULE, never a set
        wanted = limit if count is None else min(count, limit)
        starts = list(islice(recurrence.replace(until=until), wanted))
    except ValueError as exc:
        raise InvalidRecurrence(f"rrule {rule!r} is not a valid RRULE: {exc}.") from exc
    if count is not None and len(starts) < wanted:
        raise InvalidRecurrence(
            f"rrule {rule!r} does not reach its COUNT within {MAX_SPAN_YEARS} years of the "
            "first occurrence."
        )
    return starts


def _count(rule: str, value: str) -> int:
    return _positive(rule, "COUNT", value, 100_000)


def _positive(rule: str, name: str, value: str, most: int) -> int:
    """``value`` of part ``name`` as a number from 1 to ``most`` (beyond it, a rule could
    never fit in a series anyway)."""
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= most:
        raise InvalidRecurrence(f"rrule {rule!r}: {name}={value} is not a positive number.")
    return int(value)


def _until(rule: str, value: str, zone: ZoneInfo) -> datetime:
    """Read UNTIL as a naive wall-clock time in ``zone`` (see the module docstring)."""
    match = _UNTIL.fullmatch(value)
    try:
        if match is None:
            raise ValueError(value)
        year, month, day, hour, minute, second, utc = match.groups()
        date = datetime(int(year), int(month), int(day))
        if hour is None:
            return datetime.combine(date, time.max)
        moment = date.replace(hour=int(hour), minute=int(minute), second=int(second))
    except ValueError as exc:
        raise InvalidRecurrence(
            f"rrule {rule!r}: UNTIL={value} is not a date (20300131) or a date and time "
            "(20300131T170000, or 20300131T160000Z in UTC)."
        ) from exc
    if utc:
        return moment.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone).replace(tzinfo=None)
    return moment
