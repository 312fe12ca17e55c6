"""The pure rules of finding a room: views character by character, free slots, order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from roomline.domain.availability import (
    SlotSearch,
    availability_view,
    check_schedule,
    feature_names,
    fit_order,
    free_starts,
)
from roomline.domain.errors import InvalidInterval, InvalidParameter
from roomline.domain.masterdata import features_from
from roomline.domain.reservations import Interval, Space

NINE = datetime(2030, 1, 7, 9, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return NINE + timedelta(minutes=minutes)


def block(start: int, end: int) -> Interval:
    return Interval(at(start), at(end))


def space(prep: int = 0, cleanup: int = 0, capacity: int | None = 8, id: str = "A") -> Space:
    return Space(id, "", None, prep, cleanup, capacity, True)


@pytest.mark.parametrize(
    ("blocks", "view"),
    [
        pytest.param([], "0000", id="nothing booked"),
        pytest.param([block(0, 30)], "2000", id="the first interval exactly"),
        pytest.param([block(-60, 0)], "0000", id="ends at the window's start: touching"),
        pytest.param([block(120, 180)], "0000", id="starts at the window's end: touching"),
        pytest.param([block(29, 31)], "2200", id="across a boundary"),
        pytest.param([block(45, 46)], "0200", id="one minute inside"),
        pytest.param([block(-30, 200)], "2222", id="longer than the window"),
        pytest.param([block(0, 10), block(95, 100)], "2002", id="two blocks"),
    ],
)
def test_availability_view(blocks: list[Interval], view: str) -> None:
    assert availability_view(block(0, 120), timedelta(minutes=30), blocks) == view


@pytest.mark.parametrize(
    ("minutes", "interval", "refused"),
    [
        pytest.param(120, 30, None, id="divides"),
        pytest.param(120, 7, "interval 7 does not divide the window of 120 minutes", id="7"),
        pytest.param(120, 0, "interval must be between 1 and 1440 minutes, not 0", id="0"),
        pytest.param(20_000, 1, "The window holds 20000 intervals", id="too many"),
    ],
)
def test_check_schedule(minutes: int, interval: int, refused: str | None) -> None:
    window = block(0, minutes)
    if refused is None:
        check_schedule(window, interval)
        return
    with pytest.raises(InvalidInterval) as caught:
        check_schedule(window, interval)
    assert caught.value.message.startswith(refused)


def search(
    earliest: int, latest: int, duration: int = 60, step: int = 15, now: int = -999
) -> SlotSearch:
    return SlotSearch(
        earliest=at(earliest),
        latest=at(latest),
        not_before=at(now),
        duration=timedelta(minutes=duration),
        step=timedelta(minutes=step),
    )


@pytest.mark.parametrize(
    ("room", "blocks", "the_search", "starts"),
    [
        pytest.param(space(), [], search(0, 90), [0, 15, 30], id="empty room"),
        pytest.param(space(), [block(60, 120)], search(0, 180), [0, 120], id="touching both sides"),
        pytest.param(
            space(prep=15, cleanup=10),
            [block(60, 120)],
            search(0, 240),
            [135, 150, 165, 180],
            id="preparation and cleanup around a booking",
        ),
        pytest.param(
            space(prep=15, cleanup=10),
            [block(80, 120)],
            search(0, 200),
            [0, 135],
            id="cleanup touching the next block",
        ),
        pytest.param(space(), [], search(0, 120, now=20), [30, 45, 60], id="not before now"),
        pytest.param(space(), [block(0, 200)], search(0, 180), [], id="busy throughout"),
        pytest.param(
            space(),
            [block(10, 20), block(100, 110)],
            search(0, 200, duration=60, step=30),
            [30, 120],
            id="between two blocks",
        ),
    ],
)
def test_free_starts(
    room: Space, blocks: list[Interval], the_search: SlotSearch, starts: list[int]
) -> None:
    assert list(free_starts(the_search, room, blocks)) == [at(m) for m in starts]


def test_fit_order_smallest_capacity_first_unknown_last_then_id() -> None:
    rooms = [
        space(capacity=None, id="A"),
        space(capacity=8, id="C"),
        space(capacity=4, id="D"),
        space(capacity=8, id="B"),
    ]
    assert [r.id for r in sorted(rooms, key=fit_order)] == ["D", "B", "C", "A"]


def test_features() -> None:
    assert features_from(" Video,projector,,video ") == ("projector", "video")
    assert features_from(["wheelchair"]) == ("wheelchair",)
    assert features_from(None) == ()
    assert features_from("") == ()
    with pytest.raises(InvalidParameter, match="is not a short tag"):
        features_from("big screen")
    assert feature_names("Projector, ,VIDEO") == ("projector", "video")
