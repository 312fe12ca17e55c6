"""The Ultimo workflows on the wire, from the client's side: bodies out, answers in.

Kept free of roomline's server code so the client works on its own against any Ultimo
environment. Answers are read leniently (property names in any case), as Ultimo's own
documentation mixes ``Properties`` and ``properties``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx

from roomline.client.errors import (
    InvalidResponse,
    RateLimited,
    ReservationInPast,
    SpaceNotAvailable,
    UltimoError,
    Unauthorized,
)
from roomline.client.models import Reservation
from roomline.client.retry import retry_after_seconds

CREATE = "REST_CreateReservation"
UPDATE = "REST_UpdateReservation"
CANCEL = "REST_CancelReservation"
GET = "REST_GetReservationsForSpace"

# As Ultimo documents them; real environments may use others (pass your own).
DOCUMENTED_APPLICATION_ELEMENT_IDS: dict[str, str] = {
    CREATE: "0167a94a-5dae-4efe-bf13-029a47728b97",
    UPDATE: "3736d834-fa5e-4edc-9abd-f38962ff8afd",
    CANCEL: "5d5a10ee-7b14-4dd4-8683-33822ea56f12",
    GET: "860ea091-4d76-47d9-a733-c3bb18440dde",
}

TimeValue = datetime | str
_TIME = re.compile(
    r"(?P<base>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Call:
    """One request, and whether repeating it is harmless.

    ``workflow`` names an Ultimo workflow, sent as ``POST /api/V1/Action/{workflow}``, or
    one of roomline's own operations (then only for logs), sent as ``method`` to ``path``
    under the base URL with ``params`` in the query string.
    """

    workflow: str
    body: dict[str, Any] | None
    idempotent: bool
    method: str = "POST"
    path: str | None = None
    params: dict[str, str] | None = None
    # Seconds to wait for the answer when not the client's own (a long poll waits longer).
    timeout: float | None = None


def time_text(value: TimeValue) -> str:
    """Write a time as Ultimo documents it.

    An aware datetime becomes UTC ``yyyy-MM-ddTHH:mm:ssZ``; a naive one is wall-clock
    time in the space's zone, ``yyyy-MM-dd HH:mm:ss``. Both formats carry whole seconds,
    so fractions are dropped. Text is sent as given.
    """
    if isinstance(value, str):
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ultimo_id_text(value: str | int) -> str:
    """Write an UltimoId as Ultimo does: 11 digits, zero-padded."""
    return f"{value:011d}" if isinstance(value, int) else value


def create_call(
    *,
    space_id: str,
    start: TimeValue,
    end: TimeValue,
    applicant_id: str,
    description: str,
    external_id: str,
) -> Call:
    body = {
        "ExternalId": external_id,
        "Description": description,
        "SpaceId": space_id,
        "StartTime": time_text(start),
        "EndTime": time_text(end),
        "ApplicantId": applicant_id,
    }
    # With an ExternalId the server answers a repeat with the same UltimoId.
    return Call(CREATE, body, idempotent=bool(external_id.strip()))


def update_call(ultimo_id: str | int, start: TimeValue | None, end: TimeValue | None) -> Call:
    if start is None and end is None:
        raise ValueError("give start, end or both")
    body = {"UltimoId": ultimo_id_text(ultimo_id)}
    if start is not None:
        body["StartTime"] = time_text(start)
    if end is not None:
        body["EndTime"] = time_text(end)
    return Call(UPDATE, body, idempotent=False)


def cancel_call(ultimo_id: str | int) -> Call:
    return Call(CANCEL, {"UltimoId": ultimo_id_text(ultimo_id)}, idempotent=True)


def get_call(space_id: str, start: TimeValue, end: TimeValue) -> Call:
    body = {"SpaceId": space_id, "From": time_text(start), "Till": time_text(end)}
    return Call(GET, body, idempotent=True)


def error_from(response: httpx.Response) -> UltimoError:
    """Turn a refusal into the matching exception."""
    body: Any = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and ("code" in body or "message" in body):
        code, message = str(body.get("code", "")), str(body.get("message", ""))
    else:
        code = f"HTTP{response.status_code}"
        message = response.text.strip()[:500] or response.reason_phrase
    status = response.status_code
    if status == 401:
        return Unauthorized(code, message, status, body)
    if status == 429:
        return RateLimited(code, message, status, body, retry_after_seconds(response))
    if code == "1015":
        return SpaceNotAvailable(code, message, status, body)
    if code == "1166":
        return ReservationInPast(code, message, status, body)
    return UltimoError(code, message, status, body)


def created_id(response: httpx.Response) -> str:
    """Read ``{"Properties": {"UltimoId": ...}}``."""
    ultimo_id = _field(_field(_json(response), "Properties", response), "UltimoId", response)
    if not isinstance(ultimo_id, str | int):
        raise _invalid(response, "UltimoId is not text")
    return ultimo_id_text(ultimo_id)


def reservations(response: httpx.Response) -> list[Reservation]:
    """Read ``{"properties": {"Output": {"collection": [...]}}}``."""
    properties = _field(_json(response), "properties", response)
    items = _field(_field(properties, "Output", response), "collection", response)
    if not isinstance(items, list):
        raise _invalid(response, "the collection is not a list")
    return [_reservation(item, response) for item in items]


def _reservation(item: Any, response: httpx.Response) -> Reservation:
    def text(name: str) -> str:
        value = _field(item, name, response)
        return "" if value is None else str(value)

    def moment(name: str) -> datetime:
        return parse_time(text(name), response)

    return Reservation(
        ultimo_id=text("UltimoId"),
        description=text("Description"),
        applicant_id=text("ApplicantId"),
        applicant_name=text("ApplicantName"),
        start=moment("StartTime"),
        end=moment("EndTime"),
        start_including_preparation=moment("StartTimeIncludingPreparationTime"),
        end_including_cleanup=moment("EndTimeIncludingCleanupTime"),
        status=text("Status"),
    )


def parse_time(text: str, response: httpx.Response | None = None) -> datetime:
    """Read an answer's time (.NET writes up to 7 fraction digits) as an aware datetime."""
    match = _TIME.fullmatch(text.strip())
    if match is None:
        raise _invalid(response, f"{text!r} is not a time with a UTC offset")
    fraction = (match["frac"] or "")[:6].ljust(6, "0")
    try:
        naive = datetime.fromisoformat(match["base"].replace(" ", "T") + "." + fraction)
    except ValueError as exc:
        raise _invalid(response, f"{text!r} is not a real date and time") from exc
    zone = match["zone"].upper()
    if zone == "Z":
        return naive.replace(tzinfo=UTC)
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return naive.replace(tzinfo=timezone(-offset if zone[0] == "-" else offset))


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise _invalid(response, "the body is not JSON") from exc


def _field(container: Any, name: str, response: httpx.Response) -> Any:
    if isinstance(container, dict):
        for key, value in container.items():
            if isinstance(key, str) and key.lower() == name.lower():
                return value
    raise _invalid(response, f"{name} is missing")


def _invalid(response: httpx.Response | None, problem: str) -> InvalidResponse:
    status = None if response is None else response.status_code
    return InvalidResponse("InvalidResponse", f"Unexpected answer: {problem}.", status)
