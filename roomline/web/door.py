"""What the web view shows of a reservation at the door: checked in, released, ended early,
or awaiting check-in with its window (the rules are ``domain/checkin.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from roomline.domain.checkin import check_in_opens, release_deadline
from roomline.domain.reservations import Reservation, Space


@dataclass(frozen=True, slots=True)
class DoorState:
    """What the reservation page says about check-in: one line, and which buttons fit."""

    text: str
    can_check_in: bool
    can_end: bool


def door_state(reservation: Reservation, space: Space, now: datetime, zone: ZoneInfo) -> DoorState:
    """Describe ``reservation`` at the door at ``now`` (times in ``zone``)."""

    def clock(instant: datetime) -> str:
        return instant.astimezone(zone).strftime("%H:%M")

    running = reservation.active and reservation.is_running(now)
    if reservation.released_at is not None:
        return DoorState(
            f"Released at {clock(reservation.released_at)}: nobody checked in", False, False
        )
    if reservation.ended_at is not None:
        return DoorState(f"Ended early at {clock(reservation.ended_at)}", False, False)
    if reservation.checked_in_at is not None:
        by = f" by {reservation.checked_in_by}" if reservation.checked_in_by else ""
        return DoorState(f"Checked in at {clock(reservation.checked_in_at)}{by}", False, running)
    if not reservation.active or reservation.has_ended(now):
        return DoorState("Nobody checked in", False, False)
    opens = check_in_opens(reservation, space)
    deadline = release_deadline(reservation, space)
    window = f"check-in opens {clock(opens)}" + (
        f", released at {clock(deadline)} without it" if deadline else ""
    )
    required = "Check-in required" if space.check_in_required else "Check-in optional"
    can = opens <= now and (deadline is None or now < deadline)
    return DoorState(f"{required}: {window}", can, running)
