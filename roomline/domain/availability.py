"""Finding a room, as pure functions: availability views, free slots, orderings.

Invariants guarded here:
- a space is busy in an interval where any active blocked time (preparation and cleanup
  included) overlaps it; a block that only touches the interval (ends at its start,
  starts at its end) leaves it free, as touching reservations do not conflict;
- a free slot is one whose own blocked interval, with the space's current preparation
  and cleanup, overlaps no active block of the space — what a create would check;
- results are ordered the same everywhere: the smallest capacity that fits first
  (unknown capacity last), then the space id; suggestions earliest first, then that.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from roomline.domain.errors import InvalidInterval, InvalidParameter, WindowTooLarge
from roomline.domain.masterdata import FEATURE_TAG, MAX_FEATURES
from roomline.domain.reservations import Interval, Space, check_span

FREE = "0"
BUSY = "2"
MAX_INTERVALS = 10_000  # characters of one availability view
MAX_SCHEDULE_SPACES = 100
MAX_STEP_MINUTES = 24 * 60


def availability_view(window: Interval, interval: timedelta, blocks: Iterable[Interval]) -> str:
    """Return one character per ``interval`` of ``window``: ``0`` free, ``2`` busy."""
    count = intervals_in(window, interval)
    busy = [False] * count
    for block in blocks:
        if block.end <= window.start or block.start >= window.end:
            continue
        first = max(0, math.floor((block.start - window.start) / interval))
        last = min(count, math.ceil((block.end - window.start) / interval))
        for index in range(first, last):
            busy[index] = True
    return "".join(BUSY if flag else FREE for flag in busy)


def intervals_in(window: Interval, interval: timedelta) -> int:
    """Return how many intervals fill ``window`` (checked by ``check_schedule``)."""
    return (window.end - window.start) // interval


def check_window(
    start: datetime,
    end: datetime,
    max_window: timedelta,
    start_field: str = "start",
    end_field: str = "end",
) -> None:
    """Refuse a search window that is empty, reversed or longer than ``max_window``."""
    check_span(start, end, start_field, end_field)
    if end - start > max_window:
        raise WindowTooLarge(
            f"The window from {start_field} to {end_field} is longer than the maximum of "
            f"{max_window.days} days; ask for it in smaller windows."
        )


def check_schedule(window: Interval, interval_minutes: int) -> None:
    """Refuse a schedule window (checked by ``check_window``) that is not a whole number
    of intervals, or holds too many."""
    if not 1 <= interval_minutes <= MAX_STEP_MINUTES:
        raise InvalidInterval(
            f"interval must be between 1 and {MAX_STEP_MINUTES} minutes, not {interval_minutes}."
        )
    interval = timedelta(minutes=interval_minutes)
    length = window.end - window.start
    if length % interval:
        minutes = length / timedelta(minutes=1)
        raise InvalidInterval(
            f"interval {interval_minutes} does not divide the window of {minutes:g} minutes "
            "from start to end into whole intervals."
        )
    if length // interval > MAX_INTERVALS:
        raise InvalidInterval(
            f"The window holds {length // interval} intervals of {interval_minutes} minutes; "
            f"at most {MAX_INTERVALS} fit one availability view. Use a longer interval."
        )


def feature_names(text: str | None) -> tuple[str, ...]:
    """Read asked-for features (joined by commas): lowercased; blank parts dropped.

    Names that are no tag at all are kept as given: they match no space, as an unknown
    tag does, instead of being refused.
    """
    if text is None:
        return ()
    return tuple(sorted({part.strip().lower() for part in text.split(",") if part.strip()}))


def can_match(features: Sequence[str]) -> bool:
    """Return whether any space could have all ``features``: each a possible tag, and no
    more than a space can have."""
    return len(features) <= MAX_FEATURES and all(FEATURE_TAG.fullmatch(n) for n in features)


@dataclass(frozen=True, slots=True)
class SpaceFilter:
    """Which spaces a search considers: bookable ones with all of these (None: any)."""

    capacity: int | None = None  # at least this many seats; unknown capacity never fits
    building: str | None = None  # compared without regard to case
    floor: str | None = None
    features: tuple[str, ...] = ()  # every one of these tags


def fit_order(space: Space) -> tuple[bool, int, str]:
    """Sort key: the smallest capacity first, unknown capacity last, then the id."""
    return (space.capacity is None, space.capacity or 0, space.id)


def free_in(blocks: Sequence[Interval], candidate: Interval) -> bool:
    """Return whether ``candidate`` overlaps none of ``blocks`` (sorted, not overlapping)."""
    index = bisect.bisect_left([b.start for b in blocks], candidate.end)
    return index == 0 or blocks[index - 1].end <= candidate.start


@dataclass(frozen=True, slots=True)
class SlotSearch:
    """What a suggestion must satisfy, for one space: its times already in UTC."""

    earliest: datetime  # the grid starts here
    latest: datetime  # a slot ends at or before this
    not_before: datetime  # no slot starts before this (now)
    duration: timedelta
    step: timedelta


def free_starts(search: SlotSearch, space: Space, blocks: Sequence[Interval]) -> Iterator[datetime]:
    """Yield, earliest first, each start on the grid ``earliest + k * step`` whose slot
    (with the space's preparation and cleanup) is free and lies within the search.

    ``blocks`` are the space's active blocked intervals, sorted and not overlapping; a
    slot is free when its blocked interval fits in a gap between two of them, so the
    search walks the gaps and a busy week costs one step per block.
    """
    before = timedelta(minutes=space.preparation_minutes)
    after = timedelta(minutes=space.cleanup_minutes)
    first = _on_grid(search, max(search.earliest, search.not_before))
    gap_start: datetime | None = None  # None: the gap before the first block
    for block in [*blocks, None]:
        gap_end = None if block is None else block.start
        start = first if gap_start is None else max(first, _on_grid(search, gap_start + before))
        while start + search.duration <= search.latest and (
            gap_end is None or start + search.duration + after <= gap_end
        ):
            yield start
            start += search.step
        if block is not None:
            gap_start = block.end
            if gap_start + before + search.duration > search.latest:
                return


def _on_grid(search: SlotSearch, instant: datetime) -> datetime:
    """Return the first grid point at or after ``instant``."""
    if instant <= search.earliest:
        return search.earliest
    steps = math.ceil((instant - search.earliest) / search.step)
    return search.earliest + steps * search.step


def check_slot_search(
    duration_minutes: int, step_minutes: int, earliest: datetime, latest: datetime
) -> None:
    """Refuse a suggestion search that cannot hold one slot."""
    if not 1 <= duration_minutes <= MAX_STEP_MINUTES:
        raise InvalidParameter(
            f"duration must be between 1 and {MAX_STEP_MINUTES} minutes, not {duration_minutes}."
        )
    if not 1 <= step_minutes <= MAX_STEP_MINUTES:
        raise InvalidInterval(
            f"step must be between 1 and {MAX_STEP_MINUTES} minutes, not {step_minutes}."
        )
    if latest - earliest < timedelta(minutes=duration_minutes):
        raise InvalidParameter(
            f"A slot of {duration_minutes} minutes does not fit between earliest and latest."
        )
