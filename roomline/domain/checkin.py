"""At the door: check-in windows, release of no-shows, ending early and extending.

Invariants guarded here (pure; the current time is always an argument):
- check-in opens ``check_in_opens_minutes`` before a reservation's start (that instant
  included) and stays open while it has not ended; in a space that requires check-in
  and releases (``auto_release_minutes`` > 0) it closes at the release deadline,
  ``start + auto_release_minutes`` (that instant excluded: the release job takes it);
- a reservation is due for release when its space requires check-in and releases, it is
  active, nobody checked in, and the deadline has come while it is still running;
  a checked-in reservation is never due;
- ending early cuts the end of a running reservation to now (whole seconds, and at
  least one second after its start, since a reservation ends after it starts);
- extending moves the end later by whole minutes; the conflict rule (SPEC §4) decides
  whether the room is free for it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from roomline.domain.errors import (
    CheckInClosed,
    CheckInNotOpen,
    InvalidParameter,
    ReservationCancelled,
    ReservationInPast,
    ReservationNotRunning,
    ReservationReleased,
)
from roomline.domain.reservations import Reservation, Space
from roomline.domain.times import format_iso

MAX_EXTEND_MINUTES = 12 * 60


def check_in_opens(reservation: Reservation, space: Space) -> datetime:
    """Return the first instant ``reservation`` can be checked into."""
    return reservation.start - timedelta(minutes=space.check_in_opens_minutes)


def release_deadline(reservation: Reservation, space: Space) -> datetime | None:
    """Return when ``reservation`` is released if nobody checks in (None: never)."""
    if not space.check_in_required or space.auto_release_minutes <= 0:
        return None
    return reservation.start + timedelta(minutes=space.auto_release_minutes)


def due_for_release(reservation: Reservation, space: Space, now: datetime) -> bool:
    """Return whether the release job cancels ``reservation`` now."""
    deadline = release_deadline(reservation, space)
    return (
        deadline is not None
        and reservation.active
        and reservation.checked_in_at is None
        and deadline <= now < reservation.end
    )


def check_active(reservation: Reservation) -> None:
    """Refuse a cancelled reservation, saying so if it was released for no check-in."""
    if reservation.active:
        return
    if reservation.released_at is not None:
        raise ReservationReleased(
            f"Reservation {reservation.ultimo_id:011d} was released because nobody checked "
            "in; book the room again."
        )
    raise ReservationCancelled(f"Reservation {reservation.ultimo_id:011d} is cancelled.")


def check_check_in(reservation: Reservation, space: Space, now: datetime, zone: ZoneInfo) -> bool:
    """Return whether checking into ``reservation`` now changes anything (False: it is
    checked in already); refuse one whose window is not open or has closed (times in
    the refusal written in ``zone``)."""
    check_active(reservation)
    if reservation.checked_in_at is not None:
        return False  # a second check-in answers the first's time
    number = f"{reservation.ultimo_id:011d}"
    if reservation.has_ended(now):
        raise CheckInClosed(f"Reservation {number} has ended; check-in is closed.")
    opens = check_in_opens(reservation, space)
    if now < opens:
        raise CheckInNotOpen(
            f"Check-in for reservation {number} opens at {format_iso(opens, zone)}, "
            f"{space.check_in_opens_minutes} minutes before its start.",
            details=[{"opens_at": format_iso(opens, zone)}],
        )
    deadline = release_deadline(reservation, space)
    if deadline is not None and now >= deadline:
        raise CheckInClosed(
            f"Check-in for reservation {number} closed {space.auto_release_minutes} minutes "
            "after its start; the room is released."
        )
    return True


def end_early_at(reservation: Reservation, now: datetime) -> datetime:
    """Return the new end of ``reservation`` ended now; refuse one that is not running."""
    check_active(reservation)
    if reservation.has_ended(now):
        raise ReservationInPast()
    if not reservation.is_running(now):
        raise ReservationNotRunning(
            f"Reservation {reservation.ultimo_id:011d} has not started; cancel it instead."
        )
    return max(now.replace(microsecond=0), reservation.start + timedelta(seconds=1))


def extended_end(reservation: Reservation, minutes: int, now: datetime) -> datetime:
    """Return the end of ``reservation`` extended by ``minutes``; refuse an ended one."""
    if not 1 <= minutes <= MAX_EXTEND_MINUTES:
        raise InvalidParameter(
            f"minutes must be a whole number from 1 to {MAX_EXTEND_MINUTES}, not {minutes}."
        )
    check_active(reservation)
    if reservation.has_ended(now):
        raise ReservationInPast()
    return reservation.end + timedelta(minutes=minutes)
