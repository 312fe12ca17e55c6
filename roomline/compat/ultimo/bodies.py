"""The exact JSON bodies Ultimo answers with."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from roomline.compat.ultimo.wire import format_ultimo_id
from roomline.domain.errors import (
    MissingApiKey,
    PayloadTooLarge,
    RoomlineError,
    ServiceUnavailable,
    TooManyRequests,
)
from roomline.domain.times import format_utc_text
from roomline.services.reservations import WindowResult

# Ultimo marks its business-rule errors with type "3"; roomline uses the same envelope
# for every rejection, except the documented 401 body, which has no type.
ERROR_TYPE = "3"


def created(ultimo_id: int) -> dict[str, Any]:
    # Capital "Properties" here and lower-case elsewhere, exactly as documented.
    return {"Properties": {"UltimoId": format_ultimo_id(ultimo_id)}}


def empty() -> dict[str, Any]:
    return {"properties": {}}


def collection(result: WindowResult) -> dict[str, Any]:
    zone = result.zone
    items = [
        {
            "UltimoId": format_ultimo_id(listed.ultimo_id),
            "Description": listed.description,
            "ApplicantId": listed.applicant_id,
            "ApplicantName": listed.applicant_name,
            "StartTime": format_utc_text(listed.start, zone),
            "EndTime": format_utc_text(listed.end, zone),
            "StartTimeIncludingPreparationTime": format_utc_text(listed.blocked_start, zone),
            "EndTimeIncludingCleanupTime": format_utc_text(listed.blocked_end, zone),
            "Status": listed.status,
        }
        for listed in result.items
    ]
    return {"properties": {"Output": {"collection": items}}}


def error(exc: RoomlineError) -> dict[str, Any]:
    if isinstance(exc, MissingApiKey):
        return {"message": exc.message, "code": exc.code}
    return {"message": exc.message, "type": ERROR_TYPE, "code": exc.code}


def error_of(code: str, message: str) -> dict[str, Any]:
    return {"message": message, "type": ERROR_TYPE, "code": code}


def forced(status: int, retry_after: int | None) -> tuple[dict[str, Any], dict[str, str]]:
    """The body and headers Ultimo answers ``status`` with, for a stand-in fault.

    401 is the documented ``MissingApiKey`` body; 429, 413 and 503 are roomline's own
    answers (with ``Retry-After``); any other status gets the envelope with a code
    named after it (500: ``InternalServerError``).
    """
    wait = 1 if retry_after is None else retry_after
    known: dict[int, RoomlineError] = {
        401: MissingApiKey(),
        413: PayloadTooLarge("The request body is larger than the limit."),
        429: TooManyRequests(f"Too many requests; retry after {wait} s.", wait),
        503: ServiceUnavailable("The service is unavailable; retry shortly."),
    }
    headers = {"Retry-After": str(wait)} if status in (429, 503) or retry_after else {}
    if status in known:
        return error(known[status]), headers
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    code = "".join(word[:1].upper() + word[1:] for word in phrase.replace("-", " ").split())
    return error_of(code, f"{phrase} (HTTP {status})."), headers
