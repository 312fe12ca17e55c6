"""Utilisation arithmetic: working hours, and the figures of a report (docs/reports.md).

Pure and fast: instants are whole seconds since the epoch (UTC), so a quarter's million
reservations is integer arithmetic. A working day is wall-clock time in a space's zone:
``mon-fri 08:00-18:00`` is ten hours on every weekday, also on one that has 23 or 25
hours because the clocks change that night. A reservation counts only the part of it
that lies inside working hours (and inside the period).

Invariants: working windows of one space are sorted and disjoint; a ``Tally`` holds only
sums, so tallies of spaces add up to those of floors, buildings and all, and every
average or percentage is computed from the sums at the end.
"""

from __future__ import annotations

import itertools
import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from roomline.domain.errors import InvalidParameter

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_WORKING_HOURS = "mon-fri 08:00-18:00"
HOURS_OF_WEEK = 7 * 24
# A cancellation less than this before the start is "late".
LATE_CANCELLATION = 24 * 3600
# Reservations per capacity band of the space booked: (name, smallest, largest seats).
CAPACITY_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("capacity_1_4", 1, 4),
    ("capacity_5_8", 5, 8),
    ("capacity_9_16", 9, 16),
    ("capacity_17_40", 17, 40),
    ("capacity_41_up", 41, None),
)
UNKNOWN_CAPACITY = "capacity_unknown"
BAND_NAMES = (*tuple(name for name, _, _ in CAPACITY_BANDS), UNKNOWN_CAPACITY)
# 1970-01-01 was a Thursday: hours since the epoch plus three days is hours since a Monday.
_MONDAY_SHIFT_HOURS = 3 * 24
_MONDAY_SHIFT_DAYS = 3
_EPOCH = date(1970, 1, 1)

_TIME = r"(\d{2}):(\d{2})"
_RANGE = re.compile(rf"{_TIME}-{_TIME}", re.ASCII)


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """Wall-clock working hours per weekday (Monday first), as minutes of the day."""

    text: str
    days: tuple[tuple[tuple[int, int], ...], ...]


def parse_working_hours(text: str) -> WorkingHours:
    """Read ``mon-fri 08:00-18:00; sat 09:00-12:00`` (days, then ranges joined by ``,``)."""
    days: list[list[tuple[int, int]]] = [[] for _ in DAY_NAMES]
    parts = [part.strip() for part in text.split(";")]
    if not any(parts):
        raise InvalidParameter(f"working hours {text!r} are empty; {_EXAMPLE}")
    for part in parts:
        if not part:
            continue
        pieces = part.split()
        if len(pieces) != 2:
            raise InvalidParameter(
                f"working hours part {part!r} is not 'days HH:MM-HH:MM'; {_EXAMPLE}"
            )
        for day in _days(pieces[0]):
            days[day].extend(_ranges(pieces[1]))
    for day, ranges in enumerate(days):
        ranges.sort()
        for (_, end), (start, _) in itertools.pairwise(ranges):
            if start < end:
                raise InvalidParameter(
                    f"working hours {text!r} overlap on {DAY_NAMES[day]}; give each time once."
                )
    return WorkingHours(text=text.strip(), days=tuple(tuple(ranges) for ranges in days))


_EXAMPLE = "write e.g. 'mon-fri 08:00-18:00' or 'mon-thu 08:00-17:00; fri 08:00-12:00'."


def _days(text: str) -> list[int]:
    chosen: list[int] = []
    for item in text.lower().split(","):
        first, _, last = item.partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise InvalidParameter(
                f"working hours day {item!r} is not one of {', '.join(DAY_NAMES)} "
                f"or a range such as mon-fri; {_EXAMPLE}"
            )
        start = DAY_NAMES.index(first)
        end = DAY_NAMES.index(last) if last else start
        if end < start:
            raise InvalidParameter(f"working hours day range {item!r} runs backwards.")
        chosen.extend(range(start, end + 1))
    return chosen


def _ranges(text: str) -> list[tuple[int, int]]:
    ranges = []
    for item in text.split(","):
        match = _RANGE.fullmatch(item)
        if match is None:
            raise InvalidParameter(f"working hours range {item!r} is not HH:MM-HH:MM; {_EXAMPLE}")
        hour1, minute1, hour2, minute2 = (int(group) for group in match.groups())
        start, end = hour1 * 60 + minute1, hour2 * 60 + minute2
        if minute1 > 59 or minute2 > 59 or start >= 24 * 60 or end > 24 * 60:
            raise InvalidParameter(f"working hours range {item!r} is not a time of day.")
        if end <= start:
            raise InvalidParameter(f"working hours range {item!r} ends before it starts.")
        ranges.append((start, end))
    return ranges


def epoch(instant: datetime) -> int:
    """Whole seconds since the epoch of an aware instant."""
    return int(instant.timestamp())


def local_midnight(day: date, zone: ZoneInfo) -> int:
    """The instant a local day starts (a day starting in a gap starts when the gap ends)."""
    return _wall_clock(day, 0, zone)


def _wall_clock(day: date, minutes: int, zone: ZoneInfo) -> int:
    # fold=0 in a spring-forward gap reads the time with the offset before the gap, which
    # lands just after it: a working range starting at 02:30 that night starts at 03:30.
    local = datetime.combine(day, time(), tzinfo=zone) + timedelta(minutes=minutes)
    return epoch(datetime.combine(local.date(), local.time(), tzinfo=zone))


@dataclass(frozen=True, slots=True)
class Windows:
    """Sorted, disjoint working windows of one space in a period, in epoch seconds."""

    starts: list[int]
    ends: list[int]

    @property
    def seconds(self) -> int:
        return sum(end - start for start, end in zip(self.starts, self.ends, strict=True))

    def inside(self, start: int, end: int) -> int:
        """Seconds of ``[start, end)`` inside the windows."""
        ends, starts = self.ends, self.starts
        index = bisect_right(ends, start)
        total = 0
        while index < len(starts) and starts[index] < end:
            total += min(end, ends[index]) - max(start, starts[index])
            index += 1
        return total


def working_windows(hours: WorkingHours, first: date, till: date, zone: ZoneInfo) -> Windows:
    """The working windows of the local days ``[first, till)`` in ``zone``."""
    starts: list[int] = []
    ends: list[int] = []
    day = first
    while day < till:
        for start, end in hours.days[day.weekday()]:
            window_start, window_end = _wall_clock(day, start, zone), _wall_clock(day, end, zone)
            if window_end <= window_start:  # a range that lies wholly in a gap
                continue
            if ends and ends[-1] == window_start:  # 22:00-24:00 then 00:00-06:00
                ends[-1] = window_end
            else:
                starts.append(window_start)
                ends.append(window_end)
        day += timedelta(days=1)
    return Windows(starts, ends)


@dataclass(frozen=True, slots=True)
class ZoneOffsets:
    """A zone's UTC offset over a period: where each offset begins (epoch seconds)."""

    changes: list[int]
    offsets: list[int]

    def at(self, instant: int) -> int:
        return self.offsets[bisect_right(self.changes, instant) - 1]


def zone_offsets(zone: ZoneInfo, start: int, end: int) -> ZoneOffsets:
    """Find the offsets of ``zone`` over ``[start, end)`` (changes found to the minute)."""

    def offset(instant: int) -> int:
        value = datetime.fromtimestamp(instant, UTC).astimezone(zone).utcoffset()
        return int(value.total_seconds()) if value else 0

    # The first offset holds from the beginning of time, so any instant finds one.
    changes, offsets = [-(2**62)], [offset(start)]
    step = 3600
    probe = start
    while probe < end:
        following = min(probe + step, end)
        if offset(following) != offsets[-1]:
            low, high = probe, following  # offset(low) is the old one, offset(high) the new
            while high - low > 60:
                middle = (low + high) // 2
                low, high = (low, middle) if offset(middle) != offsets[-1] else (middle, high)
            changes.append(high)
            offsets.append(offset(high))
        probe = following
    return ZoneOffsets(changes, offsets)


@dataclass(slots=True)
class Tally:
    """The sums a report's figures come from; tallies add up (floors, buildings, all)."""

    spaces: int = 0
    working: int = 0  # seconds of working hours
    booked: int = 0  # seconds reserved within working hours
    margins: int = 0  # seconds of preparation and cleanup within working hours
    reservations: int = 0
    cancelled: int = 0
    late_cancelled: int = 0
    released: int = 0
    tracked: int = 0  # reservations checked in or released
    held: int = 0  # reservations not cancelled
    length: int = 0  # seconds, summed over held reservations
    lead: int = 0  # seconds from booking to start, summed over held reservations
    busy: list[int] = field(default_factory=lambda: [0] * HOURS_OF_WEEK)
    bands: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BAND_NAMES, 0))
    # Monday-based week number -> [reservations, late cancellations, releases].
    weeks: dict[int, list[int]] = field(default_factory=dict)

    def add(self, other: Tally) -> None:
        for name in (
            "spaces",
            "working",
            "booked",
            "margins",
            "reservations",
            "cancelled",
            "late_cancelled",
            "released",
            "tracked",
            "held",
            "length",
            "lead",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.busy = [mine + theirs for mine, theirs in zip(self.busy, other.busy, strict=True)]
        for band, count in other.bands.items():
            self.bands[band] += count
        for week, counts in other.weeks.items():
            mine = self.weeks.setdefault(week, [0, 0, 0])
            for index, count in enumerate(counts):
                mine[index] += count


# What became of a reservation, as bits of one small number the database works out
# per row (storage/reports.py): a row then costs no set lookups and carries no UltimoId.
CANCELLED = 1  # status Cancelled, whether cancelled or released
LATE = 2  # cancelled less than LATE_CANCELLATION before the start (the log's cancel entry)
RELEASED = 4  # released by the door because nobody checked in (status Cancelled too)
CHECKED_IN = 8

# A reservation as the report reads it: (space_id, start, end, preparation minutes,
# cleanup minutes, what became of it as the bits above, created); instants in epoch
# seconds.
Row = tuple[str, int, int, int, int, int, int]


def band_of(capacity: int | None) -> str:
    """The capacity band a space of ``capacity`` seats falls in."""
    if capacity is None or capacity < 1:
        return UNKNOWN_CAPACITY
    for name, smallest, largest in CAPACITY_BANDS:
        if capacity >= smallest and (largest is None or capacity <= largest):
            return name
    return UNKNOWN_CAPACITY


@dataclass(slots=True)
class Calendar:
    """One zone's period (epoch seconds), working windows and offsets, and what each
    reservation shape contributes. Spaces of one zone share a calendar, and meetings
    repeat their times, so most reservations find their shape already worked out."""

    first: int
    last: int
    windows: Windows
    offsets: ZoneOffsets
    shapes: dict[tuple[int, int, int, int], Shape] = field(default_factory=dict)

    def shape(self, start: int, end: int, preparation: int, cleanup: int) -> Shape:
        """What a reservation ``[start, end)`` with its margins (minutes) adds up to."""
        key = (start, end, preparation, cleanup)
        found = self.shapes.get(key)
        if found is None:
            inside = self.windows.inside
            margins = 0
            if preparation or cleanup:
                margins = inside(start - preparation * 60, start) + inside(end, end + cleanup * 60)
            local_start = start + self.offsets.at(start)
            found = self.shapes[key] = (
                self.first <= start < self.last,
                (local_start // 86400 + _MONDAY_SHIFT_DAYS) // 7,
                inside(start, end),
                margins,
                _busy_pieces(max(start, self.first), min(end, self.last), self.offsets),
            )
        return found


# (counted in the period, Monday-based week, seconds booked within working hours,
# seconds of preparation and cleanup within them, (hour of the week, seconds) pieces).
Shape = tuple[bool, int, int, int, tuple[tuple[int, int], ...]]


def tally_space(rows: Iterable[Row], calendar: Calendar, capacity: int | None) -> Tally:
    """Add up one space's reservations over its calendar's period.

    ``rows`` may hold reservations outside the period: only what lies inside counts, and
    a reservation is counted (made, cancelled, released) in the period it starts in.
    """
    tally = Tally(spaces=1, working=calendar.windows.seconds)
    busy, weeks, shapes, shape_of = tally.busy, tally.weeks, calendar.shapes, calendar.shape
    reservations = cancelled_count = held = length = lead = booked = margins = 0
    released_count = tracked = late = 0
    # Runs once per reservation, most of a report's Python time: plain locals and no
    # calls but the shape's lookup on a miss.
    for _space, start, end, preparation, cleanup, state, created in rows:
        shape = shapes.get((start, end, preparation, cleanup)) or shape_of(
            start, end, preparation, cleanup
        )
        counted, week, inside, around, pieces = shape
        if counted:
            reservations += 1
            counts = weeks.get(week)
            if counts is None:
                counts = weeks[week] = [0, 0, 0]
            counts[0] += 1
            if state:
                if state & RELEASED:  # counted as a release, not as a cancellation
                    released_count += 1
                    tracked += 1
                    counts[2] += 1
                elif state & CHECKED_IN:
                    tracked += 1
                if state & CANCELLED:
                    if not state & RELEASED:
                        cancelled_count += 1
                        if state & LATE:
                            late += 1
                            counts[1] += 1
                    continue
            held += 1
            length += end - start
            if created < start:  # lead time: none for a reservation booked once begun
                lead += start - created
        elif state & CANCELLED:
            continue
        booked += inside
        margins += around
        for slot, seconds in pieces:
            busy[slot] += seconds
    tally.reservations, tally.cancelled, tally.held = reservations, cancelled_count, held
    tally.length, tally.lead, tally.booked, tally.margins = length, lead, booked, margins
    tally.released, tally.tracked, tally.late_cancelled = released_count, tracked, late
    tally.bands[band_of(capacity)] = held
    return tally


def _busy_pieces(start: int, end: int, offsets: ZoneOffsets) -> tuple[tuple[int, int], ...]:
    """Split ``[start, end)`` into the hours of the week it falls in, in local time."""
    pieces = []
    while start < end:
        offset = offsets.at(start)
        local = start + offset
        hour_end = local - local % 3600 + 3600
        piece_end = min(end, hour_end - offset)
        pieces.append(((local // 3600 + _MONDAY_SHIFT_HOURS) % HOURS_OF_WEEK, piece_end - start))
        start = piece_end
    return tuple(pieces)


def week_start(week: int) -> date:
    """The Monday a Monday-based week number begins on."""
    return _EPOCH + timedelta(days=week * 7 - _MONDAY_SHIFT_DAYS)


def figures(tally: Tally) -> dict[str, Any]:
    """The report's figures of one row (a space, floor, building or all) from its sums."""
    return {
        "spaces": tally.spaces,
        "working_hours": _hours(tally.working),
        "booked_hours": _hours(tally.booked),
        "preparation_cleanup_hours": _hours(tally.margins),
        "occupancy_percent": _percent(tally.booked, tally.working),
        "occupancy_with_preparation_cleanup_percent": _percent(
            tally.booked + tally.margins, tally.working
        ),
        "reservations": tally.reservations,
        "cancelled": tally.cancelled,
        "late_cancelled": tally.late_cancelled,
        "released": tally.released,
        "check_in_tracked": tally.tracked,
        "no_show_rate_percent": _percent(tally.released, tally.tracked),
        "average_length_minutes": _ratio(tally.length, tally.held * 60),
        "average_lead_hours": _ratio(tally.lead, tally.held * 3600),
        "peak_hour": peak_hour(tally.busy),
        **tally.bands,
    }


def peak_hour(busy: Sequence[int]) -> str | None:
    """The busiest hour of the week (the earliest of equals), as ``Tue 10:00``."""
    most = max(busy)
    if most == 0:
        return None
    slot = busy.index(most)
    return f"{DAY_NAMES[slot // 24].capitalize()} {slot % 24:02d}:00"


def _hours(seconds: int) -> float:
    return round(seconds / 3600, 2)


def _percent(part: int, whole: int) -> float | None:
    return round(part / whole * 100, 1) if whole else None


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 1) if whole else None


# The figure columns of every row, in order (CSV headers, tables).
FIGURE_NAMES = tuple(figures(Tally()))
