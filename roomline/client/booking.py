"""roomline's own API (``/api/booking``) on the wire, from the client's side.

The sync and async clients share everything here and differ only in how they send a
``Call``. Requests carry times as ISO 8601: an aware datetime with its offset, a naive one
as wall-clock time in the space's zone. Answers are JSON with snake_case names; times
come with the space's offset and are read into aware datetimes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from roomline.client.wire import Call, TimeValue, _invalid, _json, parse_time, ultimo_id_text

PREFIX = "/api/booking"


def iso_time(value: TimeValue) -> str:
    """Write a time for roomline's own API; text is sent as given."""
    if isinstance(value, str):
        return value
    return value.isoformat()


def call(
    name: str,
    method: str,
    path: str,
    *,
    body: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
    idempotent: bool,
) -> Call:
    """One ``/api/booking`` request; ``name`` is the operation as logs show it."""
    return Call(name, body, idempotent, method=method, path=PREFIX + path, params=params)


def answer(response: httpx.Response) -> dict[str, Any]:
    """Read an answer's JSON object."""
    body = _json(response)
    if not isinstance(body, dict):
        raise _invalid(response, "the body is not a JSON object")
    return body


@dataclass(frozen=True, slots=True)
class BookedReservation:
    """A reservation as roomline's own API shows it; times keep the space's offset."""

    ultimo_id: str
    space_id: str
    applicant_id: str
    applicant_name: str
    description: str
    start: datetime
    end: datetime
    blocked_start: datetime
    blocked_end: datetime
    status: str

    @classmethod
    def from_json(cls, item: Any, response: httpx.Response | None = None) -> BookedReservation:
        if not isinstance(item, dict):
            raise _invalid(response, "a reservation is not a JSON object")

        def text(name: str) -> str:
            if name not in item:
                raise _invalid(response, f"{name} is missing")
            return str(item[name])

        return cls(
            ultimo_id=text("ultimo_id"),
            space_id=text("space_id"),
            applicant_id=text("applicant_id"),
            applicant_name=text("applicant_name"),
            description=text("description"),
            start=parse_time(text("start"), response),
            end=parse_time(text("end"), response),
            blocked_start=parse_time(text("blocked_start"), response),
            blocked_end=parse_time(text("blocked_end"), response),
            status=text("status"),
        )


def reservation_call(ultimo_id: str | int) -> Call:
    return call(
        "get_reservation", "GET", f"/reservations/{ultimo_id_text(ultimo_id)}", idempotent=True
    )


def reservation(response: httpx.Response) -> BookedReservation:
    return BookedReservation.from_json(answer(response), response)


# Finding a room (issue 17): free spaces, schedules and suggested slots (grant ``find``).


@dataclass(frozen=True, slots=True)
class FreeSpace:
    """A bookable space free over the asked window."""

    space_id: str
    description: str
    building: str | None
    floor: str | None
    capacity: int | None
    features: tuple[str, ...]
    time_zone: str


@dataclass(frozen=True, slots=True)
class ScheduleItem:
    """A reservation behind a schedule's busy intervals; times keep the space's offset."""

    ultimo_id: str
    start: datetime
    end: datetime
    blocked_start: datetime
    blocked_end: datetime
    description: str
    applicant_name: str


@dataclass(frozen=True, slots=True)
class SpaceSchedule:
    """One space's free/busy view: a character per interval, ``0`` free and ``2`` busy."""

    space_id: str
    availability_view: str
    items: tuple[ScheduleItem, ...]


@dataclass(frozen=True, slots=True)
class Slot:
    """A suggested free slot."""

    space_id: str
    start: datetime
    end: datetime


def _filters(
    capacity: int | None,
    features: Sequence[str] | str | None,
    building: str | None,
    floor: str | None,
) -> dict[str, str]:
    params: dict[str, str] = {}
    if capacity is not None:
        params["capacity"] = str(capacity)
    if features:
        params["features"] = features if isinstance(features, str) else ",".join(features)
    if building is not None:
        params["building"] = building
    if floor is not None:
        params["floor"] = floor
    return params


def free_spaces_call(
    start: TimeValue,
    end: TimeValue,
    *,
    capacity: int | None = None,
    features: Sequence[str] | str | None = None,
    building: str | None = None,
    floor: str | None = None,
    limit: int | None = None,
) -> Call:
    params = {"start": iso_time(start), "end": iso_time(end)}
    params.update(_filters(capacity, features, building, floor))
    if limit is not None:
        params["limit"] = str(limit)
    return call("find_free_spaces", "GET", "/free-spaces", params=params, idempotent=True)


def free_spaces(response: httpx.Response) -> list[FreeSpace]:
    items = _list(answer(response), "spaces", response)
    return [
        FreeSpace(
            space_id=str(_field(item, "space_id", response)),
            description=str(_field(item, "description", response)),
            building=_field(item, "building", response),
            floor=_field(item, "floor", response),
            capacity=_field(item, "capacity", response),
            features=tuple(_field(item, "features", response)),
            time_zone=str(_field(item, "time_zone", response)),
        )
        for item in items
    ]


def schedule_call(
    start: TimeValue,
    end: TimeValue,
    *,
    space_ids: Sequence[str] | None = None,
    building: str | None = None,
    floor: str | None = None,
    interval: int = 30,
) -> Call:
    params = {"start": iso_time(start), "end": iso_time(end), "interval": str(interval)}
    if space_ids is not None:
        params["spaces"] = ",".join(space_ids)
    params.update(_filters(None, None, building, floor))
    return call("get_schedule", "GET", "/schedule", params=params, idempotent=True)


def schedules(response: httpx.Response) -> list[SpaceSchedule]:
    def item_of(item: Any) -> ScheduleItem:
        return ScheduleItem(
            ultimo_id=str(_field(item, "ultimo_id", response)),
            start=parse_time(str(_field(item, "start", response)), response),
            end=parse_time(str(_field(item, "end", response)), response),
            blocked_start=parse_time(str(_field(item, "blocked_start", response)), response),
            blocked_end=parse_time(str(_field(item, "blocked_end", response)), response),
            description=str(_field(item, "description", response)),
            applicant_name=str(_field(item, "applicant_name", response)),
        )

    return [
        SpaceSchedule(
            space_id=str(_field(one, "space_id", response)),
            availability_view=str(_field(one, "availability_view", response)),
            items=tuple(item_of(item) for item in _list(one, "items", response)),
        )
        for one in _list(answer(response), "schedules", response)
    ]


def suggestions_call(
    duration: int,
    earliest: TimeValue,
    latest: TimeValue,
    *,
    capacity: int | None = None,
    features: Sequence[str] | str | None = None,
    building: str | None = None,
    floor: str | None = None,
    step: int = 15,
    limit: int = 10,
) -> Call:
    params = {
        "duration": str(duration),
        "earliest": iso_time(earliest),
        "latest": iso_time(latest),
        "step": str(step),
        "limit": str(limit),
    }
    params.update(_filters(capacity, features, building, floor))
    return call("suggest_slots", "GET", "/suggestions", params=params, idempotent=True)


def slots(response: httpx.Response) -> list[Slot]:
    return [
        Slot(
            space_id=str(_field(item, "space_id", response)),
            start=parse_time(str(_field(item, "start", response)), response),
            end=parse_time(str(_field(item, "end", response)), response),
        )
        for item in _list(answer(response), "suggestions", response)
    ]


def _list(body: Any, name: str, response: httpx.Response) -> list[Any]:
    value = body.get(name) if isinstance(body, dict) else None
    if not isinstance(value, list):
        raise _invalid(response, f"{name} is not a list")
    return value


def _field(item: Any, name: str, response: httpx.Response) -> Any:
    if not isinstance(item, dict) or name not in item:
        raise _invalid(response, f"{name} is missing")
    return item[name]
