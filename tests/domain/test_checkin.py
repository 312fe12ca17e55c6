"""The check-in window, release and early end as pure rules (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from roomline.domain.checkin import (
    check_check_in,
    due_for_release,
    end_early_at,
    extended_end,
)
from roomline.domain.errors import (
    CheckInClosed,
    CheckInNotOpen,
    InvalidParameter,
    ReservationCancelled,
    ReservationInPast,
    ReservationNotRunning,
    ReservationReleased,
    RoomlineError,
)
from roomline.domain.reservations import Reservation, ReservationStatus, Space

START = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Amsterdam")
SPACE = Space("R", "", None, 0, 0, None, True, check_in_required=True)
RELAXED = Space("R", "", None, 0, 0, None, True)
NEVER = Space("R", "", None, 0, 0, None, True, check_in_required=True, auto_release_minutes=0)


def booked(**changes: object) -> Reservation:
    values: dict[str, object] = {
        "ultimo_id": 1,
        "space_id": "R",
        "applicant_id": "P",
        "description": "",
        "start": START,
        "end": START + timedelta(hours=1),
        "preparation_minutes": 0,
        "cleanup_minutes": 0,
        "status": ReservationStatus.PROCESSED,
    }
    return Reservation(**{**values, **changes})  # type: ignore[arg-type]


def minutes(n: float) -> datetime:
    return START + timedelta(minutes=n)


@pytest.mark.parametrize(
    ("space", "reservation", "now", "outcome"),
    [
        pytest.param(SPACE, booked(), minutes(-15), True, id="opens exactly 15 before"),
        pytest.param(SPACE, booked(), minutes(-15 - 1 / 60), CheckInNotOpen, id="a second early"),
        pytest.param(SPACE, booked(), minutes(9.99), True, id="just before the release"),
        pytest.param(SPACE, booked(), minutes(10), CheckInClosed, id="at the release minute"),
        pytest.param(RELAXED, booked(), minutes(59), True, id="not required: open to the end"),
        pytest.param(NEVER, booked(), minutes(59), True, id="0 minutes: open to the end"),
        pytest.param(RELAXED, booked(), minutes(60), CheckInClosed, id="ended"),
        pytest.param(SPACE, booked(checked_in_at=minutes(-3)), minutes(30), False, id="again"),
        pytest.param(
            SPACE,
            booked(status=ReservationStatus.CANCELLED, released_at=minutes(10)),
            minutes(11),
            ReservationReleased,
            id="released",
        ),
        pytest.param(
            SPACE,
            booked(status=ReservationStatus.CANCELLED),
            minutes(0),
            ReservationCancelled,
            id="cancelled",
        ),
    ],
)
def test_check_in_window(
    space: Space, reservation: Reservation, now: datetime, outcome: object
) -> None:
    if isinstance(outcome, bool):
        assert check_check_in(reservation, space, now, ZONE) is outcome
    else:
        assert isinstance(outcome, type) and issubclass(outcome, RoomlineError)
        with pytest.raises(outcome):
            check_check_in(reservation, space, now, ZONE)


@pytest.mark.parametrize(
    ("space", "reservation", "now", "due"),
    [
        pytest.param(SPACE, booked(), minutes(9.99), False, id="before the release minute"),
        pytest.param(SPACE, booked(), minutes(10), True, id="at the release minute"),
        pytest.param(SPACE, booked(checked_in_at=minutes(1)), minutes(30), False, id="checked in"),
        pytest.param(SPACE, booked(), minutes(60), False, id="already ended"),
        pytest.param(RELAXED, booked(), minutes(30), False, id="check-in not required"),
        pytest.param(NEVER, booked(), minutes(30), False, id="0 never releases"),
        pytest.param(
            SPACE, booked(status=ReservationStatus.CANCELLED), minutes(30), False, id="cancelled"
        ),
    ],
)
def test_due_for_release(space: Space, reservation: Reservation, now: datetime, due: bool) -> None:
    assert due_for_release(reservation, space, now) is due


def test_end_early_and_extend() -> None:
    assert end_early_at(booked(), minutes(20.5)) == minutes(20.5)
    assert end_early_at(booked(), START) == START + timedelta(seconds=1)  # ends after it starts
    with pytest.raises(ReservationNotRunning):
        end_early_at(booked(), minutes(-1))
    with pytest.raises(ReservationInPast):
        end_early_at(booked(), minutes(60))
    assert extended_end(booked(), 15, minutes(-30)) == minutes(75)
    with pytest.raises(InvalidParameter):
        extended_end(booked(), 0, START)
    with pytest.raises(ReservationInPast):
        extended_end(booked(), 15, minutes(61))
