"""``/api/booking`` free spaces, schedules and suggested slots (grant ``find``).

On the event loop, as the Ultimo workflows: ``HotPaths.read`` runs each search over
asyncpg on PostgreSQL and in a read transaction of SQLite (``services.availability``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from roomline.api.booking.access import Caller, grant
from roomline.api.management.common import database_errors
from roomline.domain.availability import MAX_SCHEDULE_SPACES
from roomline.services import availability
from roomline.services.reservations import Policy
from roomline.storage.hotpath import HotPaths

router = APIRouter()
Find = Annotated[Caller, Depends(grant("find"))]

WALL_CLOCK = "ISO 8601 with an offset or Z; without one, wall-clock time in each space's own zone"
Capacity = Annotated[int | None, Query(description="At least this many seats.", ge=0)]
Features = Annotated[
    str | None,
    Query(
        description="Tags the space must all have, joined by commas; unknown tags match nothing.",
        examples=["projector,video"],
    ),
]
Building = Annotated[str | None, Query(description="The building, in any case.")]
Floor = Annotated[str | None, Query(description='The floor as text ("2", "B1"), in any case.')]


class FreeSpace(BaseModel):
    space_id: str = Field(..., examples=["C-25"])
    description: str
    building: str | None = Field(..., examples=["HQ"])
    floor: str | None = Field(..., examples=["2"])
    capacity: int | None = Field(..., examples=[8])
    features: list[str] = Field(..., examples=[["projector", "video"]])
    time_zone: str = Field(..., examples=["Europe/Amsterdam"])


class FreeSpaces(BaseModel):
    spaces: list[FreeSpace]


class ScheduleItem(BaseModel):
    ultimo_id: str = Field(..., examples=["00000006712"])
    start: str = Field(..., examples=["2030-01-07T09:00:00+01:00"])
    end: str = Field(..., examples=["2030-01-07T10:00:00+01:00"])
    blocked_start: str = Field(..., examples=["2030-01-07T08:45:00+01:00"])
    blocked_end: str = Field(..., examples=["2030-01-07T10:10:00+01:00"])
    description: str
    applicant_name: str = Field(..., examples=["Fasse, J."])


class SpaceSchedule(BaseModel):
    space_id: str
    availability_view: str = Field(
        ...,
        description="One character per interval: 0 free, 2 busy (blocked time, preparation "
        "and cleanup included, overlaps it).",
        examples=["0022200000"],
    )
    items: list[ScheduleItem]


class Schedules(BaseModel):
    schedules: list[SpaceSchedule]


class Slot(BaseModel):
    space_id: str = Field(..., examples=["C-25"])
    start: str = Field(..., examples=["2030-01-07T10:30:00+01:00"])
    end: str = Field(..., examples=["2030-01-07T11:30:00+01:00"])


class Suggestions(BaseModel):
    suggestions: list[Slot]


def _hot(request: Request) -> HotPaths:
    hot: HotPaths = request.app.state.ultimo.hot
    return hot


def _policy(request: Request) -> Policy:
    policy: Policy = request.app.state.reservations.policy
    return policy


@router.get("/free-spaces", response_model=FreeSpaces)
async def free_spaces(
    request: Request,
    caller: Find,
    start: Annotated[str, Query(description=WALL_CLOCK, examples=["2030-01-07T10:00:00"])],
    end: Annotated[str, Query(description=WALL_CLOCK, examples=["2030-01-07T11:00:00"])],
    capacity: Capacity = None,
    features: Features = None,
    building: Building = None,
    floor: Floor = None,
    limit: Annotated[int | None, Query(description="At most this many (1-10000).")] = None,
) -> dict[str, Any]:
    """List the bookable spaces free over [start, end) (grant `find`).

    Free means a reservation over the window, with the space's own preparation and
    cleanup around it, would overlap no active reservation. The smallest capacity that
    fits comes first (unknown capacity last), then the space id.
    """
    wanted = availability.space_filter(capacity, features, building, floor)
    policy = _policy(request)
    with database_errors():
        found = await _hot(request).read(
            lambda path: availability.free_spaces(path, policy, wanted, start, end, limit)
        )
    return {"spaces": [availability.free_space_values(space, zone.key) for space, zone in found]}


@router.get("/schedule", response_model=Schedules)
async def schedule(
    request: Request,
    caller: Find,
    start: Annotated[str, Query(description=WALL_CLOCK)],
    end: Annotated[str, Query(description=WALL_CLOCK)],
    spaces: Annotated[
        str | None,
        Query(
            description=f"Space ids joined by commas, at most {MAX_SCHEDULE_SPACES}; or "
            "leave out and give building and/or floor.",
            examples=["C-25,003.0.10"],
        ),
    ] = None,
    building: Building = None,
    floor: Floor = None,
    interval: Annotated[
        int, Query(description="Minutes per character of the availability view (1-1440).")
    ] = 30,
) -> dict[str, Any]:
    """Show each space's free/busy view and reservations over [start, end) (grant `find`).

    The interval must divide the window into whole intervals. Without `spaces`, the
    bookable spaces of `building` and `floor` are shown, by id.
    """
    space_ids = spaces.split(",") if spaces is not None else None
    wanted = availability.space_filter(building=building, floor=floor)
    policy = _policy(request)
    with database_errors():
        found = await _hot(request).read(
            lambda path: availability.schedules(
                path, policy, start, end, interval, space_ids, wanted
            )
        )
    return {"schedules": [availability.schedule_values(one) for one in found]}


@router.get("/suggestions", response_model=Suggestions)
async def suggestions(
    request: Request,
    caller: Find,
    duration: Annotated[int, Query(description="Minutes the meeting lasts (1-1440).")],
    earliest: Annotated[str, Query(description=f"No slot starts earlier. {WALL_CLOCK}.")],
    latest: Annotated[str, Query(description=f"No slot ends later. {WALL_CLOCK}.")],
    capacity: Capacity = None,
    features: Features = None,
    building: Building = None,
    floor: Floor = None,
    step: Annotated[
        int, Query(description="Slots start every this many minutes from earliest.")
    ] = 15,
    limit: Annotated[int, Query(description="At most this many slots (1-100).")] = 10,
) -> dict[str, Any]:
    """Suggest the first free slots of `duration` minutes (grant `find`).

    Slots start on a grid of `step` minutes from `earliest`, never before now, and end by
    `latest`; earliest first, then the smallest capacity that fits, then the space id.
    """
    wanted = availability.space_filter(capacity, features, building, floor)
    policy = _policy(request)
    with database_errors():
        found = await _hot(request).read(
            lambda path: availability.suggestions(
                path, policy, wanted, duration, earliest, latest, step, limit
            )
        )
    return {"suggestions": [availability.slot_values(slot) for slot in found]}
