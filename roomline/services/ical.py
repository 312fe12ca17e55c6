"""Writing a calendar feed as RFC 5545 text, with the ``icalendar`` library.

The text depends only on the stored data and the window's years, never on the moment it
is written: DTSTAMP is the reservation's last change, the VTIMEZONEs cover whole years.
So an unchanged calendar is byte for byte the same, and its ETag holds.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard

from roomline import __version__

PRODID = f"-//roomline//roomline {__version__}//EN"
# A hint to clients that honour it (Apple, Outlook, Thunderbird); Google polls on its own.
REFRESH = "PT15M"


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One reservation as a VEVENT."""

    uid: str
    sequence: int
    stamp: datetime  # the reservation's last change (UTC)
    created: datetime
    start: datetime
    end: datetime
    zone: str
    summary: str
    location: str
    description: str
    cancelled: bool


def calendar_text(
    name: str, zones: Sequence[str], events: Sequence[FeedEvent], first: date, last: date
) -> bytes:
    """Return the calendar ``name`` holding ``events``, with a VTIMEZONE for each of
    ``zones`` valid from ``first`` to ``last``."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("name", name)
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", timedelta(minutes=15), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", REFRESH)
    for zone in sorted(set(zones)):
        calendar.add_component(vtimezone(zone, first.year, last.year))
    # The calendar's own lines, then the events' (each written and kept by vevent_text).
    head, end = bytes(calendar.to_ical()).rsplit(b"END:VCALENDAR\r\n", 1)
    assert end == b""
    return b"".join((head, *(vevent_text(event) for event in events), b"END:VCALENDAR\r\n"))


# Writing one VEVENT with icalendar takes about half a millisecond; a busy room's year is
# thousands. An event's text depends only on its FeedEvent, so each process keeps the
# 20,000 most recently used (about 20 MB at most): a calendar app polling an unchanged
# feed costs the query and a join.
@functools.lru_cache(maxsize=20_000)
def vevent_text(event: FeedEvent) -> bytes:
    """``event`` as a VEVENT (its content lines, CRLF-ended)."""
    vevent = Event()
    vevent.add("uid", event.uid)
    vevent.add("dtstamp", event.stamp)
    vevent.add("created", event.created)
    vevent.add("last-modified", event.stamp)
    vevent.add("sequence", event.sequence)
    # Naive wall-clock with its TZID, as RFC 5545 §3.3.5 form 3 writes it (and cheaper
    # for icalendar than finding the TZID from a tzinfo).
    zone = ZoneInfo(event.zone)
    for name, instant in (("dtstart", event.start), ("dtend", event.end)):
        local = instant.astimezone(zone).replace(tzinfo=None)
        vevent.add(name, local, parameters={"TZID": event.zone})
    vevent.add("summary", event.summary)
    vevent.add("location", event.location)
    vevent.add("description", event.description)
    vevent.add("status", "CANCELLED" if event.cancelled else "CONFIRMED")
    vevent.add("transp", "TRANSPARENT" if event.cancelled else "OPAQUE")
    return bytes(vevent.to_ical())


@functools.lru_cache(maxsize=256)
def vtimezone(zone: str, first_year: int, last_year: int) -> Timezone:
    """The VTIMEZONE of IANA ``zone`` from 1 January ``first_year`` to the end of
    ``last_year``: the observance in force then, and one per transition.

    Built here from the zone's own transitions rather than with icalendar's
    ``Timezone.from_tzinfo``, which (7.3) gives a DAYLIGHT onset in the new offset's wall
    clock (03:00 for Europe's 02:00 switch), so a client that reads the VTIMEZONE rather
    than its own zone data would switch an hour late. RFC 5545 §3.6.5: DTSTART is the
    onset in the offset before it (TZOFFSETFROM). Whole years keep the component (and the
    feed's ETag) the same all year. Cached, and never changed once built.
    """
    info = ZoneInfo(zone)
    start = datetime(first_year, 1, 1, tzinfo=UTC)
    component = Timezone()
    component.add("tzid", zone)
    before = _offset(info, start)
    component.add_component(_observance(info, start, before, before))
    for instant in _transitions(info, start, datetime(last_year + 1, 1, 1, tzinfo=UTC)):
        after = _offset(info, instant)
        component.add_component(_observance(info, instant, before, after))
        before = after
    return component


def _observance(
    info: ZoneInfo, onset: datetime, before: timedelta, after: timedelta
) -> TimezoneStandard | TimezoneDaylight:
    local = onset.astimezone(info)
    observance = TimezoneDaylight() if local.dst() else TimezoneStandard()
    observance.add("dtstart", (onset + before).replace(tzinfo=None))
    observance.add("tzoffsetfrom", before)
    observance.add("tzoffsetto", after)
    observance.add("tzname", local.tzname())
    return observance


def _offset(info: ZoneInfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(info).utcoffset()
    assert offset is not None
    return offset


def _transitions(info: ZoneInfo, start: datetime, end: datetime) -> Iterator[datetime]:
    """The instants in ``[start, end)`` at which ``info``'s UTC offset changes (to the
    second: day by day, then halving the day the offset changed in)."""
    day = timedelta(days=1)
    low = start
    while low < end:
        high = min(low + day, end)
        if _offset(info, low) != _offset(info, high):
            first, last = low, high
            while last - first > timedelta(seconds=1):
                middle = first + (last - first) / 2
                middle = middle.replace(microsecond=0)
                if _offset(info, middle) == _offset(info, first):
                    first = middle
                else:
                    last = middle
            yield last
        low = high
