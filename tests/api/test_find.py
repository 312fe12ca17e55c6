"""Finding a room through the real server, on both databases: free spaces, schedules and
suggested slots over a small hand-built building, exact answers, and the refusals."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from roomline.client import AsyncUltimoClient, FreeSpace, Slot, UltimoClient, UltimoError
from roomline.domain.reservations import Space
from tests.conftest import World
from tests.support import DEMO_KEY, Server

BUILDING = "Find-HQ"


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2030, 1, day, hour, minute, tzinfo=UTC)


@pytest.fixture(scope="module")
def building(world: World) -> dict[str, Space]:
    """Five spaces of one building; Amsterdam is UTC+1 in January, Auckland UTC+13.

    - small (4 seats, projector): booked 11:00-12:00 Amsterdam on 8 January;
    - mid (8, projector and video, 15 min preparation, 10 cleanup): booked 10:00-11:00
      Amsterdam, so blocked 09:45-11:10;
    - big (20, video, Auckland): booked 10:00-11:00 Auckland on 8 January;
    - unknown (capacity not recorded) and closed (not bookable), never booked.
    """
    person = world.person("Fasse, J.")
    spaces = {
        "small": world.space(capacity=4, building=BUILDING, floor="1", features=("projector",)),
        "mid": world.space(
            capacity=8,
            prep=15,
            cleanup=10,
            building=BUILDING,
            floor="2",
            features=("projector", "video"),
            description="Board room",
        ),
        "big": world.space(
            capacity=20, tz="Pacific/Auckland", building=BUILDING, floor="3", features=("video",)
        ),
        "unknown": world.space(capacity=None, building=BUILDING, floor="1"),
        "closed": world.space(capacity=6, building=BUILDING, floor="1", bookable=False),
    }
    world.reservation(spaces["small"], utc(8, 10), utc(8, 11), person.id)
    world.reservation(spaces["mid"], utc(8, 9), utc(8, 10), person.id)
    world.reservation(spaces["big"], utc(7, 21), utc(7, 22), person.id)
    return spaces


def get(server: Server, path: str, **params: Any) -> Any:
    return server.client.get(f"/api/booking/{path}", params=params, headers={"ApiKey": DEMO_KEY})


def free_ids(server: Server, **params: Any) -> list[str]:
    response = get(server, "free-spaces", building=BUILDING, **params)
    assert response.status_code == 200, response.text
    return [item["space_id"] for item in response.json()["spaces"]]


def test_free_spaces_answers_each_free_space_in_full(
    server: Server, building: dict[str, Space]
) -> None:
    response = get(
        server,
        "free-spaces",
        start="2030-01-08T13:00:00",
        end="2030-01-08T14:00:00",
        building=BUILDING.lower(),
        features="video",
    )
    assert response.status_code == 200, response.text
    mid, big = building["mid"], building["big"]
    assert response.json() == {
        "spaces": [
            {
                "space_id": mid.id,
                "description": "Board room",
                "building": BUILDING,
                "floor": "2",
                "capacity": 8,
                "features": ["projector", "video"],
                "time_zone": "Europe/Amsterdam",
            },
            {
                "space_id": big.id,
                "description": big.description,
                "building": BUILDING,
                "floor": "3",
                "capacity": 20,
                "features": ["video"],
                "time_zone": "Pacific/Auckland",
            },
        ]
    }


@pytest.mark.parametrize(
    ("start", "end", "free"),
    [
        pytest.param("11:00", "12:00", ["big", "unknown"], id="same hour as small"),
        pytest.param("12:00", "13:00", ["small", "mid", "big", "unknown"], id="touching small"),
        pytest.param("10:59", "11:30", ["unknown"], id="a minute into small and big"),
        pytest.param("11:10", "12:00", ["big", "unknown"], id="preparation into mid's cleanup"),
        pytest.param("11:25", "12:00", ["mid", "big", "unknown"], id="preparation touching"),
        pytest.param("09:00", "09:35", ["small", "mid", "big", "unknown"], id="cleanup touching"),
        pytest.param("09:00", "09:36", ["small", "big", "unknown"], id="cleanup overlapping"),
    ],
)
def test_free_spaces_through_preparation_and_cleanup(
    server: Server, building: dict[str, Space], start: str, end: str, free: list[str]
) -> None:
    # Wall-clock times: each space's own zone. mid's block is 09:45-11:10 Amsterdam; a new
    # booking there is blocked 15 minutes before and 10 after too. big (Auckland) is
    # booked only 10:00-11:00 of its own day, so wall-clock 10:00-11:00 is the one hour
    # it is busy.
    found = free_ids(server, start=f"2030-01-08T{start}:00", end=f"2030-01-08T{end}:00")
    assert found == [building[name].id for name in free]  # by capacity: 4, 8, 20, unknown


def test_wall_clock_times_mean_each_space_zone_and_offsets_mean_one_instant(
    server: Server, building: dict[str, Space]
) -> None:
    small, big, unknown = (building[name].id for name in ("small", "big", "unknown"))
    # 10:00-11:00 of each space's own day: big is booked then (Auckland), mid too.
    assert free_ids(server, start="2030-01-08T10:00:00", end="2030-01-08T11:00:00") == [
        small,
        unknown,
    ]
    # 10:00-11:00 Amsterdam time is 22:00-23:00 in Auckland: big is free.
    assert free_ids(server, start="2030-01-08T10:00:00+01:00", end="2030-01-08T10:00:00Z") == [
        small,
        big,
        unknown,
    ]


def test_capacity_orders_the_smallest_fitting_first(
    server: Server, building: dict[str, Space]
) -> None:
    window = {"start": "2030-01-09T10:00:00", "end": "2030-01-09T11:00:00"}
    ids = {name: space.id for name, space in building.items()}
    assert free_ids(server, **window) == [ids["small"], ids["mid"], ids["big"], ids["unknown"]]
    assert free_ids(server, **window, capacity=5) == [ids["mid"], ids["big"]]
    assert free_ids(server, **window, capacity=8, limit=1) == [ids["mid"]]
    assert free_ids(server, **window, capacity=21) == []
    assert free_ids(server, **window, floor="1") == [ids["small"], ids["unknown"]]
    assert free_ids(server, **window, features="PROJECTOR, video") == [ids["mid"]]


@pytest.mark.parametrize("features", ["teleporter", "big screen!", "video,teleporter"])
def test_unknown_features_match_nothing(
    server: Server, building: dict[str, Space], features: str
) -> None:
    assert (
        free_ids(server, start="2030-01-09T10:00:00", end="2030-01-09T11:00:00", features=features)
        == []
    )


@pytest.mark.parametrize(
    ("interval", "view"),
    [
        pytest.param(30, "022220", id="30 minutes"),
        pytest.param(15, "000222222000", id="15 minutes"),
        pytest.param(10, "000022222222200000", id="10 minutes: cleanup touches 11:10"),
        pytest.param(180, "2", id="one interval"),
    ],
)
def test_schedule_view_character_by_character(
    server: Server, building: dict[str, Space], interval: int, view: str
) -> None:
    mid = building["mid"]
    response = get(
        server,
        "schedule",
        spaces=mid.id,
        start="2030-01-08T09:00:00",
        end="2030-01-08T12:00:00",
        interval=interval,
    )
    assert response.status_code == 200, response.text
    [schedule] = response.json()["schedules"]
    assert schedule["availability_view"] == view


def test_schedule_lists_the_reservations_behind_the_view(
    server: Server, building: dict[str, Space]
) -> None:
    small, mid, big = building["small"], building["mid"], building["big"]
    response = get(
        server,
        "schedule",
        spaces=f"{mid.id},{small.id} ,{big.id},{mid.id}",
        start="2030-01-08T09:00:00",
        end="2030-01-08T12:00:00",
        interval=60,
    )
    assert response.status_code == 200, response.text
    schedules = response.json()["schedules"]
    assert [(s["space_id"], s["availability_view"]) for s in schedules] == [
        (mid.id, "222"),
        (small.id, "002"),
        (big.id, "020"),  # Auckland's own 09:00-12:00
    ]
    assert schedules[0]["items"] == [
        {
            "ultimo_id": schedules[0]["items"][0]["ultimo_id"],
            "start": "2030-01-08T10:00:00+01:00",
            "end": "2030-01-08T11:00:00+01:00",
            "blocked_start": "2030-01-08T09:45:00+01:00",
            "blocked_end": "2030-01-08T11:10:00+01:00",
            "description": "Stored directly",
            "applicant_name": "Fasse, J.",
        }
    ]
    assert schedules[2]["items"][0]["start"] == "2030-01-08T10:00:00+13:00"


def test_schedule_of_a_building_floor(server: Server, building: dict[str, Space]) -> None:
    response = get(
        server,
        "schedule",
        building=BUILDING,
        floor="1",
        start="2030-01-08T11:00:00",
        end="2030-01-08T13:00:00",
        interval=60,
    )
    assert response.status_code == 200, response.text
    # Bookable spaces only (closed is on floor 1 too), by id.
    views = [(building["small"].id, "20"), (building["unknown"].id, "00")]
    assert [(s["space_id"], s["availability_view"]) for s in response.json()["schedules"]] == (
        sorted(views)
    )


def test_suggestions_around_existing_bookings(server: Server, building: dict[str, Space]) -> None:
    response = get(
        server,
        "suggestions",
        duration=60,
        earliest="2030-01-08T09:00:00",
        latest="2030-01-08T13:00:00",
        capacity=3,
        features="projector",
        building=BUILDING,
    )
    assert response.status_code == 200, response.text
    small, mid = building["small"].id, building["mid"].id

    def slot(space_id: str, start: str, end: str) -> dict[str, str]:
        return {
            "space_id": space_id,
            "start": f"2030-01-08T{start}:00+01:00",
            "end": f"2030-01-08T{end}:00+01:00",
        }

    # small is booked 11:00-12:00; mid is blocked 09:45-11:10 and needs 15 minutes
    # before and 10 after a new booking: free from 11:25, on the grid 11:30.
    assert response.json()["suggestions"] == [
        slot(small, "09:00", "10:00"),
        slot(small, "09:15", "10:15"),
        slot(small, "09:30", "10:30"),
        slot(small, "09:45", "10:45"),
        slot(small, "10:00", "11:00"),
        slot(mid, "11:30", "12:30"),
        slot(mid, "11:45", "12:45"),
        slot(small, "12:00", "13:00"),
        slot(mid, "12:00", "13:00"),
    ]
    limited = get(
        server,
        "suggestions",
        duration=60,
        earliest="2030-01-08T09:00:00",
        latest="2030-01-08T13:00:00",
        features="projector,video",
        step=30,
        limit=1,
    )
    assert limited.json()["suggestions"] == [slot(mid, "11:30", "12:30")]


def test_suggestions_never_start_before_now(server: Server, building: dict[str, Space]) -> None:
    # The server's clock is pinned at 2030-01-07 09:00 UTC (10:00 Amsterdam).
    response = get(
        server,
        "suggestions",
        duration=30,
        earliest="2030-01-07T08:10:00",
        latest="2030-01-07T11:00:00",
        floor="2",
        building=BUILDING,
        step=20,
        limit=2,
    )
    assert response.status_code == 200, response.text
    assert [s["start"] for s in response.json()["suggestions"]] == [
        "2030-01-07T10:10:00+01:00",
        "2030-01-07T10:30:00+01:00",
    ]


@pytest.mark.parametrize(
    ("path", "params", "code", "message"),
    [
        pytest.param(
            "free-spaces",
            {"start": "2030-01-08T12:00:00", "end": "2030-01-08T11:00:00"},
            "InvalidTimeSpan",
            "end must be after start.",
            id="start after end",
        ),
        pytest.param(
            "free-spaces",
            {"start": "2030-01-08T12:00:00", "end": "2031-02-08T11:00:00"},
            "WindowTooLarge",
            "The window from start to end is longer than the maximum of 366 days; ask for "
            "it in smaller windows.",
            id="window too long",
        ),
        pytest.param(
            "free-spaces",
            {"start": "tomorrow", "end": "2030-01-08T11:00:00"},
            "InvalidDateTime",
            None,
            id="unreadable time",
        ),
        pytest.param(
            "free-spaces",
            {"start": "2030-01-08T12:00:00"},
            "InvalidParameter",
            "query.end: Field required",
            id="end missing",
        ),
        pytest.param(
            "free-spaces",
            {"start": "2030-01-08T10:00:00", "end": "2030-01-08T11:00:00", "capacity": "-1"},
            "InvalidParameter",
            None,
            id="negative capacity",
        ),
        pytest.param(
            "schedule",
            {
                "building": BUILDING,
                "start": "2030-01-08T09:00:00",
                "end": "2030-01-08T12:00:00",
                "interval": 7,
            },
            "InvalidInterval",
            "interval 7 does not divide the window of 180 minutes from start to end into "
            "whole intervals.",
            id="interval not dividing",
        ),
        pytest.param(
            "schedule",
            {
                "spaces": ",".join(f"X-{n}" for n in range(101)),
                "start": "2030-01-08T09:00:00",
                "end": "2030-01-08T12:00:00",
            },
            "TooManySpaces",
            "A schedule covers at most 100 spaces, not 101; ask for fewer, or narrow building "
            "and floor.",
            id="101 spaces",
        ),
        pytest.param(
            "schedule",
            {"start": "2030-01-08T09:00:00", "end": "2030-01-08T12:00:00"},
            "RequiredParameterMissing",
            "Give spaces (ids joined by commas), or building or floor.",
            id="no spaces",
        ),
        pytest.param(
            "schedule",
            {
                "spaces": "no-such-room",
                "start": "2030-01-08T09:00:00",
                "end": "2030-01-08T12:00:00",
            },
            "UnknownSpace",
            "There is no space 'no-such-room'.",
            id="unknown space",
        ),
        pytest.param(
            "suggestions",
            {"duration": 90, "earliest": "2030-01-08T09:00:00", "latest": "2030-01-08T10:00:00"},
            "InvalidParameter",
            "A slot of 90 minutes does not fit between earliest and latest.",
            id="duration longer than the window",
        ),
        pytest.param(
            "suggestions",
            {"duration": 30, "earliest": "2030-01-08T10:00:00", "latest": "2030-01-08T09:00:00"},
            "InvalidTimeSpan",
            "latest must be after earliest.",
            id="latest before earliest",
        ),
        pytest.param(
            "suggestions",
            {
                "duration": 30,
                "earliest": "2030-01-08T09:00:00",
                "latest": "2030-01-08T12:00:00",
                "step": 0,
            },
            "InvalidInterval",
            "step must be between 1 and 1440 minutes, not 0.",
            id="step zero",
        ),
        pytest.param(
            "schedule",
            {
                "building": BUILDING,
                "start": "2030-01-08T09:00:00",
                "end": "2030-01-08T12:00:00",
                "interval": 10**15,
            },
            "InvalidInterval",
            f"interval must be between 1 and 1440 minutes, not {10**15}.",
            id="huge interval",
        ),
        pytest.param(
            "free-spaces",
            {"start": "2030-01-08T10:00:00", "end": "2030-01-08T11:00:00", "capacity": 10**15},
            "InvalidParameter",
            f"capacity must be between 0 and 1000000, not {10**15}.",
            id="huge capacity",
        ),
    ],
)
def test_bad_requests_are_refused_clearly(
    server: Server,
    building: dict[str, Space],
    path: str,
    params: dict[str, Any],
    code: str,
    message: str | None,
) -> None:
    response = get(server, path, **params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == code
    if message is not None:
        assert body["message"] == message


def test_a_key_without_the_find_grant_is_refused(server: Server, world: World) -> None:
    key = world.key(workflows=["REST_GetReservationsForSpace", "series"])
    response = server.client.get(
        "/api/booking/free-spaces",
        params={"start": "2030-01-08T10:00:00", "end": "2030-01-08T11:00:00"},
        headers={"ApiKey": key},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "WorkflowNotAllowed"
    allowed = world.key(workflows=["find"])
    ok = server.client.get(
        "/api/booking/free-spaces",
        params={"start": "2030-01-08T10:00:00", "end": "2030-01-08T11:00:00"},
        headers={"ApiKey": allowed},
    )
    assert ok.status_code == 200


def test_free_spaces_agrees_with_a_create_right_after(
    server: Server, world: World, building: dict[str, Space]
) -> None:
    window = {"start": "2030-01-10T10:00:00", "end": "2030-01-10T11:00:00", "capacity": 10}
    [first] = free_ids(server, **window)
    created = server.call(
        "REST_CreateReservation",
        {
            "ExternalId": "",
            "Description": "found",
            "SpaceId": first,
            "StartTime": "2030-01-10 10:00:00",
            "EndTime": "2030-01-10 11:00:00",
            "ApplicantId": "ULTIMO",
        },
    )
    assert created.status_code == 200, created.text
    assert free_ids(server, **window) == []


def test_the_clients_find_rooms_sync_and_async(server: Server, building: dict[str, Space]) -> None:
    small, mid = building["small"], building["mid"]
    with UltimoClient(server.base_url, DEMO_KEY) as client:
        free = client.find_free_spaces(
            datetime(2030, 1, 8, 13),
            datetime(2030, 1, 8, 14),
            features=["video"],
            building=BUILDING,
        )
        assert [space.space_id for space in free] == [mid.id, building["big"].id]
        assert free[0] == FreeSpace(
            space_id=mid.id,
            description="Board room",
            building=BUILDING,
            floor="2",
            capacity=8,
            features=("projector", "video"),
            time_zone="Europe/Amsterdam",
        )
        [schedule] = client.get_schedule(
            "2030-01-08T09:00:00", "2030-01-08T12:00:00", space_ids=[mid.id], interval=60
        )
        assert schedule.availability_view == "222"
        assert schedule.items[0].blocked_end == datetime(2030, 1, 8, 10, 10, tzinfo=UTC)
        with pytest.raises(UltimoError) as refused:
            client.get_schedule(
                "2030-01-08T09:00:00", "2030-01-08T12:00:00", space_ids=[mid.id], interval=7
            )
        assert refused.value.code == "InvalidInterval"

    async def suggest() -> list[Slot]:
        async with AsyncUltimoClient(server.base_url, DEMO_KEY) as client:
            return await client.suggest_slots(
                60,
                "2030-01-08T09:00:00",
                "2030-01-08T13:00:00",
                features="projector",
                capacity=3,
                building=BUILDING,
                limit=2,
            )

    slots = asyncio.run(suggest())
    assert [(slot.space_id, slot.start.isoformat()) for slot in slots] == [
        (small.id, "2030-01-08T09:00:00+01:00"),
        (small.id, "2030-01-08T09:15:00+01:00"),
    ]
