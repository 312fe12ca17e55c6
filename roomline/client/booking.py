"""roomline's own API (``/api/booking``) on the wire, from the client's side.

The sync and async clients share everything here and differ only in how they send a
``Call``. Requests carry times as ISO 8601: an aware datetime with its offset, a naive one
as wall-clock time in the space's zone. Answers are JSON with snake_case names; times
come with the space's offset and are read into aware datetimes.
"""

from __future__ import annotations

import json
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
    prefix: str = PREFIX,
) -> Call:
    """One request of roomline's own API (``/api/booking`` unless ``prefix`` says
    otherwise); ``name`` is the operation as logs show it."""
    return Call(name, body, idempotent, method=method, path=prefix + path, params=params)


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
    # At the door (roomline's check-in): None until it happens.
    checked_in_at: datetime | None = None
    checked_in_by: str | None = None
    released_at: datetime | None = None
    ended_at: datetime | None = None

    @classmethod
    def from_json(cls, item: Any, response: httpx.Response | None = None) -> BookedReservation:
        if not isinstance(item, dict):
            raise _invalid(response, "a reservation is not a JSON object")

        def text(name: str) -> str:
            if name not in item:
                raise _invalid(response, f"{name} is missing")
            return str(item[name])

        def moment(name: str) -> datetime | None:
            value = item.get(name)
            return None if value is None else parse_time(str(value), response)

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
            checked_in_at=moment("checked_in_at"),
            checked_in_by=None if item.get("checked_in_by") is None else str(item["checked_in_by"]),
            released_at=moment("released_at"),
            ended_at=moment("ended_at"),
        )


def reservation_call(ultimo_id: str | int) -> Call:
    return call(
        "get_reservation", "GET", f"/reservations/{ultimo_id_text(ultimo_id)}", idempotent=True
    )


def reservation(response: httpx.Response) -> BookedReservation:
    return BookedReservation.from_json(answer(response), response)


# At the door (grant ``checkin``). Check-in is safe to repeat (a second one answers the
# first's time); ending early and extending are not, so they are never retried.


def check_in_call(ultimo_id: str | int) -> Call:
    return call(
        "check_in", "POST", f"/reservations/{ultimo_id_text(ultimo_id)}/check-in", idempotent=True
    )


def end_early_call(ultimo_id: str | int) -> Call:
    return call(
        "end_early", "POST", f"/reservations/{ultimo_id_text(ultimo_id)}/end", idempotent=False
    )


def extend_call(ultimo_id: str | int, minutes: int) -> Call:
    return call(
        "extend",
        "POST",
        f"/reservations/{ultimo_id_text(ultimo_id)}/extend",
        body={"minutes": minutes},
        idempotent=False,
    )


# Recurring reservations (grant ``series``).


@dataclass(frozen=True, slots=True)
class SeriesOccurrence:
    """One occurrence: booked (``ultimo_id`` None in a preview) or, read with its series,
    with its status and whether it was changed on its own (an exception)."""

    ultimo_id: str | None
    start: datetime
    end: datetime
    status: str | None = None
    exception: bool = False


@dataclass(frozen=True, slots=True)
class SkippedOccurrence:
    """An occurrence left out, and why (``code``, ``message``). Its times are text: one in
    a DST gap does not exist and is written without an offset."""

    start: str
    end: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class SeriesBooking:
    """What creating, previewing or changing a series did."""

    series_id: int | None
    occurrences: list[SeriesOccurrence]
    skipped: list[SkippedOccurrence]


@dataclass(frozen=True, slots=True)
class Series:
    """A series as roomline shows it; ``cancelled`` lists what a cancel just cancelled."""

    series_id: int
    space_id: str
    applicant_id: str
    applicant_name: str
    description: str
    rrule: str
    exdates: list[datetime]
    start: datetime
    end: datetime
    external_id: str
    occurrences: list[SeriesOccurrence]
    exceptions: list[str]
    skipped: list[SkippedOccurrence]
    cancelled: list[str]


def create_series_call(
    *,
    space_id: str,
    applicant_id: str,
    start: TimeValue,
    end: TimeValue,
    rrule: str,
    description: str = "",
    exdates: Sequence[TimeValue] = (),
    external_id: str = "",
    on_conflict: str = "fail",
    preview: bool = False,
) -> Call:
    body = {
        "space_id": space_id,
        "applicant_id": applicant_id,
        "description": description,
        "start": iso_time(start),
        "end": iso_time(end),
        "rrule": rrule,
        "exdates": [iso_time(moment) for moment in exdates],
        "external_id": external_id,
        "on_conflict": on_conflict,
    }
    if preview:
        return call("preview_series", "POST", "/series/preview", body=body, idempotent=True)
    # Only an external_id makes a repeated create harmless.
    return call("create_series", "POST", "/series", body=body, idempotent=bool(external_id))


def series_call(series_id: int) -> Call:
    return call("get_series", "GET", f"/series/{series_id}", idempotent=True)


def update_series_call(
    series_id: int,
    *,
    from_: TimeValue | None = None,
    time_of_day: str | None = None,
    duration_minutes: int | None = None,
    description: str | None = None,
    on_conflict: str = "fail",
) -> Call:
    body: dict[str, Any] = {"on_conflict": on_conflict}
    if from_ is not None:
        body["from"] = iso_time(from_)
    for name, value in (
        ("time_of_day", time_of_day),
        ("duration_minutes", duration_minutes),
        ("description", description),
    ):
        if value is not None:
            body[name] = value
    return call("update_series", "PATCH", f"/series/{series_id}", body=body, idempotent=False)


def cancel_series_call(series_id: int, *, from_: TimeValue | None = None) -> Call:
    body = {} if from_ is None else {"from": iso_time(from_)}
    # Cancelling again cancels nothing more, so a retry is harmless.
    return call("cancel_series", "POST", f"/series/{series_id}/cancel", body=body, idempotent=True)


def series_booking(response: httpx.Response) -> SeriesBooking:
    body = answer(response)
    series_id = body.get("series_id")
    return SeriesBooking(
        series_id=None if series_id is None else int(series_id),
        occurrences=[_occurrence(item, response) for item in _list(body, "occurrences", response)],
        skipped=[_skipped(item, response) for item in _list(body, "skipped", response)],
    )


def series(response: httpx.Response) -> Series:
    body = answer(response)
    try:
        return Series(
            series_id=int(body["series_id"]),
            space_id=str(body["space_id"]),
            applicant_id=str(body["applicant_id"]),
            applicant_name=str(body["applicant_name"]),
            description=str(body["description"]),
            rrule=str(body["rrule"]),
            exdates=[parse_time(str(t), response) for t in _list(body, "exdates", response)],
            start=parse_time(str(body["start"]), response),
            end=parse_time(str(body["end"]), response),
            external_id=str(body["external_id"]),
            occurrences=[_occurrence(o, response) for o in _list(body, "occurrences", response)],
            exceptions=[str(i) for i in _list(body, "exceptions", response)],
            skipped=[_skipped(s, response) for s in _list(body, "skipped", response)],
            cancelled=[str(i) for i in body.get("cancelled", [])],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise _invalid(response, f"a series lacks or garbles {exc}") from exc


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


def _occurrence(item: Any, response: httpx.Response) -> SeriesOccurrence:
    if not isinstance(item, dict) or "start" not in item or "end" not in item:
        raise _invalid(response, "an occurrence is not an object with start and end")
    ultimo_id = item.get("ultimo_id")
    return SeriesOccurrence(
        ultimo_id=None if ultimo_id is None else str(ultimo_id),
        start=parse_time(str(item["start"]), response),
        end=parse_time(str(item["end"]), response),
        status=item.get("status"),
        exception=bool(item.get("exception", False)),
    )


def _skipped(item: Any, response: httpx.Response) -> SkippedOccurrence:
    if not isinstance(item, dict):
        raise _invalid(response, "a skipped occurrence is not an object")
    return SkippedOccurrence(
        start=str(item.get("start")),
        end=str(item.get("end")),
        code=str(item.get("code")),
        message=str(item.get("message")),
    )


def _field(item: Any, name: str, response: httpx.Response) -> Any:
    if not isinstance(item, dict) or name not in item:
        raise _invalid(response, f"{name} is missing")
    return item[name]


# The log of changes (grant ``changes``): a feed, a long poll and a live stream.

# The server sends a heartbeat every 15 s: a stream silent for longer than this is dead.
STREAM_READ_TIMEOUT = 45.0


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One committed change: ``type`` is reservation.created, .updated, .cancelled …;
    ``reservation`` is the reservation as it is after the change."""

    cursor: str
    type: str
    at: datetime
    reservation: BookedReservation
    series_id: int | None
    key_name: str | None
    via: str | None

    @classmethod
    def from_json(cls, item: Any, response: httpx.Response | None = None) -> ChangeEvent:
        if not isinstance(item, dict) or not isinstance(item.get("reservation"), dict):
            raise _invalid(response, "a change is not a JSON object with a reservation")
        by = item.get("by")
        if not isinstance(by, dict):
            by = {}
        try:
            return cls(
                cursor=str(item["cursor"]),
                type=str(item["type"]),
                at=parse_time(str(item["at"]), response),
                reservation=BookedReservation.from_json(item["reservation"], response),
                series_id=item["reservation"].get("series_id"),
                key_name=by.get("key_name"),
                via=by.get("via"),
            )
        except KeyError as exc:
            raise _invalid(response, f"{exc.args[0]} is missing from a change") from exc


@dataclass(frozen=True, slots=True)
class ChangePage:
    """Changes in order, and the cursor to ask after next time (``after=page.next``)."""

    events: list[ChangeEvent]
    next: str


def changes_call(
    *,
    after: str | int | None = None,
    space_id: str | None = None,
    limit: int | None = None,
    wait: float | None = None,
) -> Call:
    params: dict[str, str] = {}
    if after is not None:
        params["after"] = str(after)
    if space_id is not None:
        params["space"] = space_id
    if limit is not None:
        params["limit"] = str(limit)
    if wait:
        params["wait"] = str(wait)
    # A long poll is held up to ``wait`` seconds: give the read that much more time.
    timeout = None if not wait else wait + 30.0
    return Call(
        "changes",
        None,
        True,
        method="GET",
        path=PREFIX + "/changes",
        params=params,
        timeout=timeout,
    )


def change_page(response: httpx.Response) -> ChangePage:
    body = answer(response)
    events = body.get("events")
    if not isinstance(events, list) or "next" not in body:
        raise _invalid(response, "events or next is missing")
    return ChangePage([ChangeEvent.from_json(e, response) for e in events], str(body["next"]))


def stream_call(space_id: str | None) -> Call:
    params = {} if space_id is None else {"space": space_id}
    return Call(
        "changes_stream",
        None,
        True,
        method="GET",
        path=PREFIX + "/changes/stream",
        params=params,
        timeout=STREAM_READ_TIMEOUT,
    )


def stream_headers(headers: dict[str, str], cursor: str | None) -> dict[str, str]:
    """A stream request's headers: the client's own, SSE, and where to resume."""
    sent = {**headers, "Accept": "text/event-stream"}
    if cursor is not None:
        sent["Last-Event-ID"] = cursor
    return sent


class EventStreamReader:
    """Reads Server-Sent Events line by line (the WHATWG rules roomline's stream uses:
    ``id:``, ``event:``, ``data:``, comments, a blank line ends an event)."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def line(self, text: str) -> ChangeEvent | None:
        """Feed one line; return the change it completes, if any."""
        if text == "":
            data, self._data = "\n".join(self._data), []
            if not data:
                return None
            try:
                return ChangeEvent.from_json(json.loads(data))
            except ValueError as exc:
                raise _invalid(None, "an event's data is not JSON") from exc
        if text.startswith(":"):
            return None  # a heartbeat
        name, _, value = text.partition(":")
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None  # id and event repeat what the data says (cursor, type)
