"""The exact JSON bodies Ultimo answers with."""

from __future__ import annotations

from typing import Any

from roomline.compat.ultimo.wire import format_ultimo_id
from roomline.domain.errors import MissingApiKey, RoomlineError
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
