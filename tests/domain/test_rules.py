"""The reservation rules, table-driven, with no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from roomline.domain import errors
from roomline.domain.reservations import (
    Interval,
    Reservation,
    ReservationStatus,
    blocked_interval,
    check_cancel,
    check_change,
    check_new_times,
    check_window,
    find_conflict,
)

NOW = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
GRACE = timedelta(minutes=5)


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2030, 1, 7, hour, minute, tzinfo=UTC)


def booking(
    start: datetime,
    end: datetime,
    prep: int = 0,
    cleanup: int = 0,
    status: ReservationStatus = ReservationStatus.PROCESSED,
    ultimo_id: int = 1,
) -> Reservation:
    return Reservation(ultimo_id, "S", "P", "", start, end, prep, cleanup, status)


EXISTING = booking(at(10), at(11), prep=15, cleanup=15)  # blocks 09:45-11:15


@pytest.mark.parametrize(
    ("candidate", "conflicts"),
    [
        pytest.param(
            blocked_interval(at(11, 15), at(12), 0, 0), False, id="touching after cleanup"
        ),
        pytest.param(
            blocked_interval(at(9), at(9, 45), 0, 0), False, id="touching before preparation"
        ),
        pytest.param(
            blocked_interval(at(11, 30), at(12), 15, 0), False, id="own preparation touches cleanup"
        ),
        pytest.param(blocked_interval(at(11, 10), at(12), 0, 0), True, id="inside cleanup time"),
        pytest.param(blocked_interval(at(9), at(9, 50), 0, 0), True, id="inside preparation time"),
        pytest.param(
            blocked_interval(at(11, 20), at(12), 10, 0), True, id="own preparation overlaps cleanup"
        ),
        pytest.param(blocked_interval(at(10, 30), at(10, 45), 0, 0), True, id="inside"),
        pytest.param(blocked_interval(at(8), at(13), 0, 0), True, id="around"),
        pytest.param(blocked_interval(at(9), at(10, 30), 0, 0), True, id="overlapping start"),
        pytest.param(blocked_interval(at(10, 30), at(12), 0, 0), True, id="overlapping end"),
        pytest.param(blocked_interval(at(10), at(11), 15, 15), True, id="identical"),
    ],
)
def test_conflicts(candidate: Interval, conflicts: bool) -> None:
    assert (find_conflict(candidate, [EXISTING]) is EXISTING) is conflicts


def test_cancelled_reservations_do_not_conflict() -> None:
    cancelled = booking(at(10), at(11), status=ReservationStatus.CANCELLED)
    assert find_conflict(blocked_interval(at(10), at(11), 0, 0), [cancelled]) is None


def test_conflict_across_dst_uses_instants() -> None:
    # 2030-03-31 in Amsterdam: 01:30 CET is 00:30 UTC, 03:30 CEST is 01:30 UTC.
    existing = booking(
        datetime(2030, 3, 31, 0, 30, tzinfo=UTC), datetime(2030, 3, 31, 1, 30, tzinfo=UTC)
    )
    touching = blocked_interval(
        datetime(2030, 3, 31, 1, 30, tzinfo=UTC), datetime(2030, 3, 31, 2, 0, tzinfo=UTC), 0, 0
    )
    overlapping = blocked_interval(
        datetime(2030, 3, 31, 1, 0, tzinfo=UTC), datetime(2030, 3, 31, 2, 0, tzinfo=UTC), 0, 0
    )
    assert find_conflict(touching, [existing]) is None
    assert find_conflict(overlapping, [existing]) is existing


@pytest.mark.parametrize(
    ("start", "end", "error"),
    [
        pytest.param(at(10), at(11), None, id="future"),
        pytest.param(at(8, 56), at(10), None, id="started within grace"),
        pytest.param(at(8, 55), at(10), None, id="started exactly at grace"),
        pytest.param(at(8, 54), at(10), errors.StartTimeInPast, id="started before grace"),
        pytest.param(at(8), at(9), errors.EndTimeInPast, id="ended now"),
        pytest.param(at(11), at(11), errors.InvalidTimeSpan, id="empty"),
        pytest.param(at(11), at(10), errors.InvalidTimeSpan, id="reversed"),
    ],
)
def test_new_times(start: datetime, end: datetime, error: type[Exception] | None) -> None:
    if error is None:
        check_new_times(start, end, NOW, GRACE)
    else:
        with pytest.raises(error):
            check_new_times(start, end, NOW, GRACE)


RUNNING = booking(at(8, 30), at(9, 30))
ENDED = booking(at(7), at(8))
FUTURE = booking(at(10), at(11))
CANCELLED = booking(at(10), at(11), status=ReservationStatus.CANCELLED)


@pytest.mark.parametrize(
    ("current", "start", "end", "error"),
    [
        pytest.param(FUTURE, at(12), at(13), None, id="move a future one"),
        pytest.param(FUTURE, at(8, 57), at(13), None, id="move a future one to now"),
        pytest.param(
            FUTURE, at(8), at(13), errors.StartTimeInPast, id="move a future one into the past"
        ),
        pytest.param(RUNNING, at(8, 30), at(10), None, id="extend a running one"),
        pytest.param(RUNNING, at(8, 30), at(9, 5), None, id="shorten a running one"),
        pytest.param(
            RUNNING, at(8, 30), at(9), errors.EndTimeInPast, id="shorten a running one to now"
        ),
        pytest.param(
            RUNNING, at(8, 45), at(10), errors.ReservationStarted, id="move a running one's start"
        ),
        pytest.param(ENDED, at(10), at(11), errors.ReservationInPast, id="change an ended one"),
        pytest.param(
            CANCELLED, at(12), at(13), errors.ReservationCancelled, id="move a cancelled one"
        ),
        pytest.param(FUTURE, at(11), at(10), errors.InvalidTimeSpan, id="reversed"),
    ],
)
def test_changes(
    current: Reservation, start: datetime, end: datetime, error: type[Exception] | None
) -> None:
    if error is None:
        check_change(current, start, end, NOW, GRACE)
    else:
        with pytest.raises(error):
            check_change(current, start, end, NOW, GRACE)


@pytest.mark.parametrize(
    ("current", "changes", "error"),
    [
        pytest.param(FUTURE, True, None, id="future"),
        pytest.param(RUNNING, True, None, id="running"),
        pytest.param(CANCELLED, False, None, id="cancelled again"),
        pytest.param(ENDED, False, errors.ReservationInPast, id="ended"),
    ],
)
def test_cancel(current: Reservation, changes: bool, error: type[Exception] | None) -> None:
    if error is None:
        assert check_cancel(current, NOW) is changes
    else:
        with pytest.raises(error):
            check_cancel(current, NOW)


@pytest.mark.parametrize(
    ("length", "error"),
    [
        pytest.param(timedelta(days=366), None, id="longest allowed"),
        pytest.param(
            timedelta(days=366, seconds=1), errors.WindowTooLarge, id="one second too long"
        ),
        pytest.param(timedelta(0), errors.InvalidTimeSpan, id="empty"),
        pytest.param(-timedelta(hours=1), errors.InvalidTimeSpan, id="From after Till"),
    ],
)
def test_window(length: timedelta, error: type[Exception] | None) -> None:
    if error is None:
        check_window(NOW, NOW + length, timedelta(days=366))
    else:
        with pytest.raises(error):
            check_window(NOW, NOW + length, timedelta(days=366))
