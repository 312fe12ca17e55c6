"""roomline's own API (``/api/booking``) on the wire, from the client's side.

The sync and async clients share everything here and differ only in how they send a
``Call``. Requests carry times as ISO 8601: an aware datetime with its offset, a naive one
as wall-clock time in the space's zone. Answers are JSON with snake_case names; times
come with the space's offset and are read into aware datetimes.
"""

from __future__ import annotations

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
