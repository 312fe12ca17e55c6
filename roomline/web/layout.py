"""Where things go on a timeline track: percentages of a space's local day.

A track is one space's day ``[start, end)`` (23, 24 or 25 hours). A reservation is drawn
over its blocked interval, clipped to the track, as three parts in proportion to their
visible minutes: preparation (shaded), the reservation itself, cleanup (shaded).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from roomline.services.timeline import Entry, SpaceDay

HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Placed:
    entry: Entry
    offset: float  # percent of the track where the blocked interval starts (clipped)
    size: float  # percent of the track it covers (clipped)
    preparation: float  # visible minutes of each part
    main: float
    cleanup: float
    start_text: str  # local wall-clock times of the reservation itself
    end_text: str
    state: str  # "past", "running" or "upcoming", by the server's clock
    # How far the title line may run, in percent of the block's own size: to the start of
    # the next block on the track, or to the track's end. A short block's title runs on
    # past its end over the free stretch after it, so it can be read on one line.
    title_room: float = 100.0

    def share(self, minutes: float) -> float:
        """Return a part's percentage of the drawn block (the parts add up to 100)."""
        total = self.preparation + self.main + self.cleanup
        return round(minutes / total * 100, 4) if total else 0.0

    @property
    def title_offset(self) -> float:
        """Where the title starts, in percent of the block: where the reservation does."""
        return self.share(self.preparation)


@dataclass(frozen=True, slots=True)
class Mark:
    offset: float
    label: str


def percent(instant: datetime, start: datetime, end: datetime) -> float:
    """Return where ``instant`` lies on the track ``[start, end)``, clamped to 0..100."""
    share = (instant - start) / (end - start)
    return round(max(0.0, min(1.0, share)) * 100, 4)


def _minutes(first: datetime, last: datetime) -> float:
    return max(0.0, (last - first).total_seconds() / 60)


def local_text(instant: datetime, zone: ZoneInfo, day_start: datetime) -> str:
    """Write ``instant`` as local ``HH:MM``, with the date when it is not on the track's day."""
    local = instant.astimezone(zone)
    if local.date() != day_start.astimezone(zone).date():
        return local.strftime("%d %b %H:%M")
    return local.strftime("%H:%M")


def place(entry: Entry, start: datetime, end: datetime, zone: ZoneInfo, now: datetime) -> Placed:
    """Place ``entry`` on the track ``[start, end)`` in ``zone``."""
    reservation = entry.reservation
    blocked = reservation.blocked
    first, last = max(blocked.start, start), min(blocked.end, end)
    state = (
        "past"
        if reservation.has_ended(now)
        else "running"
        if reservation.is_running(now)
        else "upcoming"
    )
    return Placed(
        entry=entry,
        offset=percent(first, start, end),
        size=round(percent(last, start, end) - percent(first, start, end), 4),
        preparation=_minutes(first, min(reservation.start, last)),
        main=_minutes(max(reservation.start, first), min(reservation.end, last)),
        cleanup=_minutes(max(reservation.end, first), last),
        start_text=local_text(reservation.start, zone, start),
        end_text=local_text(reservation.end, zone, start),
        state=state,
    )


def with_title_room(blocks: list[Placed]) -> list[Placed]:
    """Give each block of one track the room its title has, up to the next block."""
    starts = sorted(block.offset for block in blocks)
    placed = []
    for block in blocks:
        following = [start for start in starts if start > block.offset]
        end = following[0] if following else 100.0
        title_start = block.offset + block.size * block.title_offset / 100
        room = (end - title_start) / block.size * 100 if block.size else 0.0
        placed.append(replace(block, title_room=round(max(room, 0.0), 4)))
    return placed


def hour_marks(start: datetime, end: datetime, zone: ZoneInfo) -> list[Mark]:
    """Return a mark at every local whole hour inside the track (after its start)."""
    marks = []
    instant = start + HOUR - timedelta(minutes=start.astimezone(zone).minute)
    while instant < end:
        local = instant.astimezone(zone)
        marks.append(Mark(percent(instant, start, end), local.strftime("%H")))
        instant += HOUR
    return marks


def hours_long(start: datetime, end: datetime) -> int:
    """Return how many hours the track is long (23, 24 or 25)."""
    return round((end - start) / HOUR)


@dataclass(frozen=True, slots=True)
class Track:
    """One space's day, ready to draw."""

    row: SpaceDay
    blocks: list[Placed]
    now_offset: float | None  # where the "now" line goes, None when now is not on this day
    hours: int
    marks: list[Mark]  # only for 23- and 25-hour days; 24-hour tracks draw a CSS grid
    busy_now: Entry | None


def track(row: SpaceDay, now: datetime) -> Track:
    """Lay out ``row`` with the server's ``now``."""
    hours = hours_long(row.start, row.end)
    return Track(
        row=row,
        blocks=with_title_room(
            [place(entry, row.start, row.end, row.zone, now) for entry in row.entries]
        ),
        now_offset=percent(now, row.start, row.end) if row.start <= now < row.end else None,
        hours=hours,
        marks=[] if hours == 24 else hour_marks(row.start, row.end, row.zone),
        busy_now=row.current(now),
    )
