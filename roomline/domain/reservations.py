"""The reservation rules of SPEC §4, as pure functions over plain values.

Invariants guarded here (and, for overlap, again by the database):
- a reservation blocks its space over ``[start - preparation, end + cleanup)``;
- two active reservations of one space never have overlapping blocked intervals
  (touching intervals do not overlap);
- a new or moved reservation ends after it starts and in the future, and starts no
  earlier than ``now - grace``; an ended reservation cannot change; a running one keeps
  its start.
The current time is always an argument.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from roomline.domain.errors import (
    EndTimeInPast,
    InvalidTimeSpan,
    ReservationCancelled,
    ReservationInPast,
    ReservationStarted,
    StartTimeInPast,
    WindowTooLarge,
)


class ReservationStatus(enum.StrEnum):
    PROCESSED = "Processed"
    CANCELLED = "Cancelled"


@dataclass(frozen=True, slots=True)
class Interval:
    """A half-open span of time ``[start, end)``."""

    start: datetime
    end: datetime

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class Space:
    id: str
    description: str
    time_zone: str | None
    preparation_minutes: int
    cleanup_minutes: int
    capacity: int | None
    bookable: bool
    building: str | None = None
    floor: str | None = None  # text: "2", "B1", "mezzanine"
    features: tuple[str, ...] = ()  # short tags, sorted: ("projector", "video")
    # Check-in at the door (domain/checkin.py): whether a reservation must be checked
    # into, how long before its start that opens, and how long after its start one
    # nobody checked into is released (0: never).
    check_in_required: bool = False
    check_in_opens_minutes: int = 15
    auto_release_minutes: int = 10

    @property
    def display_name(self) -> str:
        """The name the 1015 message uses: the description, else the id."""
        return self.description or self.id


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Reservation:
    ultimo_id: int
    space_id: str
    applicant_id: str
    description: str
    start: datetime
    end: datetime
    preparation_minutes: int
    cleanup_minutes: int
    status: ReservationStatus
    external_id: str = ""
    series_id: int | None = None
    # At the door: when and by which key it was checked in; when it was released for
    # nobody checking in (it is then cancelled); when it was ended early (its end is
    # then that moment).
    checked_in_at: datetime | None = None
    checked_in_by: str | None = None
    released_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def blocked(self) -> Interval:
        return blocked_interval(
            self.start, self.end, self.preparation_minutes, self.cleanup_minutes
        )

    @property
    def active(self) -> bool:
        return self.status is ReservationStatus.PROCESSED

    def has_ended(self, now: datetime) -> bool:
        return self.end <= now

    def is_running(self, now: datetime) -> bool:
        return self.start <= now < self.end


def blocked_interval(
    start: datetime, end: datetime, preparation_minutes: int, cleanup_minutes: int
) -> Interval:
    """Return the span a reservation keeps its space from anyone else."""
    return Interval(
        start - timedelta(minutes=preparation_minutes), end + timedelta(minutes=cleanup_minutes)
    )


def find_conflict(candidate: Interval, existing: Iterable[Reservation]) -> Reservation | None:
    """Return the first active reservation whose blocked interval overlaps ``candidate``."""
    for other in existing:
        if other.active and other.blocked.overlaps(candidate):
            return other
    return None


def check_span(start: datetime, end: datetime, start_field: str, end_field: str) -> None:
    """Refuse a span whose end is not after its start."""
    if end <= start:
        raise InvalidTimeSpan(f"{end_field} must be after {start_field}.")


def check_new_times(start: datetime, end: datetime, now: datetime, grace: timedelta) -> None:
    """Apply the rules for the times of a new (or wholly moved) reservation."""
    check_span(start, end, "StartTime", "EndTime")
    if end <= now:
        raise EndTimeInPast("EndTime lies in the past; a reservation must end in the future.")
    if start < now - grace:
        minutes = int(grace.total_seconds() // 60)
        raise StartTimeInPast(
            f"StartTime lies in the past; a reservation may start at most {minutes} "
            "minutes before now."
        )


def check_change(
    current: Reservation, start: datetime, end: datetime, now: datetime, grace: timedelta
) -> None:
    """Apply the rules for moving, shortening or extending ``current`` to ``[start, end)``."""
    if not current.active:
        raise ReservationCancelled(
            f"Reservation {current.ultimo_id:011d} is cancelled and cannot be changed."
        )
    if current.has_ended(now):
        raise ReservationInPast()
    if current.is_running(now):
        if start != current.start:
            raise ReservationStarted(
                "The reservation has started; its StartTime cannot change, only its EndTime."
            )
        check_span(start, end, "StartTime", "EndTime")
        if end <= now:
            raise EndTimeInPast(
                "EndTime lies in the past; a running reservation may be "
                "shortened to end no earlier than now."
            )
        return
    check_new_times(start, end, now, grace)


def check_cancel(current: Reservation, now: datetime) -> bool:
    """Return whether cancelling ``current`` changes anything; refuse an ended one."""
    if not current.active:
        return False  # cancelling again succeeds, so clients can retry safely
    if current.has_ended(now):
        raise ReservationInPast()
    return True


def check_window(start: datetime, end: datetime, max_window: timedelta) -> None:
    """Refuse a Get window that is empty, reversed or longer than ``max_window``."""
    check_span(start, end, "From", "Till")
    if end - start > max_window:
        raise WindowTooLarge(
            f"The window from From to Till is longer than the maximum of {max_window.days} "
            "days; ask for it in smaller windows."
        )
