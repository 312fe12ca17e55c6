"""The OpenAPI description of the four workflows: schemas, the documented examples, errors.

These pydantic models only describe the wire for the OpenAPI document; requests are read
by ``wire.py`` (case-insensitively), never by these models.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from roomline.compat.ultimo import wire
from roomline.config import DOCUMENTED_APPLICATION_ELEMENT_IDS

DOCUMENTED_ELEMENT_IDS = DOCUMENTED_APPLICATION_ELEMENT_IDS
TIME_FORMATS = (
    "`yyyy-MM-dd HH:mm:ss` (wall-clock in the space's time zone), `yyyy-MM-ddTHH:mm:ssZ` "
    "(UTC); also ISO 8601 with a `T`, fractional seconds and an explicit offset. "
    "Instants in the years 1900 to 9998 (UTC)."
)
# The patterns say exactly what wire.py and domain/times.py accept, so that clients (and
# the schema-driven fuzzing in tests/reliability) can tell a valid request from an invalid
# one. Digits are written [0-9]: ``\d`` means any Unicode digit to Python's ``re``.
TIME_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,7})?"
    r"([Zz]|[+-][0-9]{2}:?[0-9]{2})?$"
)
ULTIMO_ID_PATTERN = r"^[0-9]{1,11}$"
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"  # no control characters
DESCRIPTION_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # tab, CR and LF allowed
NULL_MEANS_ABSENT = " `null` means the same as leaving it out."


class CreateReservationRequest(BaseModel):
    model_config = ConfigDict(title="CreateReservationRequest")
    ExternalId: str | None = Field(
        "",
        max_length=wire.MAX_ID_LENGTH,
        pattern=TEXT_PATTERN,
        description="The caller's own id; a non-empty one makes the request idempotent per "
        "API key." + NULL_MEANS_ABSENT,
    )
    Description: str | None = Field(
        "",
        max_length=wire.MAX_DESCRIPTION_LENGTH,
        pattern=DESCRIPTION_PATTERN,
        description="Free text; may hold tab and line breaks." + NULL_MEANS_ABSENT,
    )
    SpaceId: str = Field(..., min_length=1, max_length=wire.MAX_ID_LENGTH, pattern=TEXT_PATTERN)
    StartTime: str = Field(..., pattern=TIME_PATTERN, description=TIME_FORMATS)
    EndTime: str = Field(..., pattern=TIME_PATTERN, description=TIME_FORMATS)
    ApplicantId: str = Field(
        ...,
        min_length=1,
        max_length=wire.MAX_ID_LENGTH,
        pattern=TEXT_PATTERN,
        description="Also accepted as `Applicant`, as the documentation's example spells it "
        "(one of the two, not both).",
    )


class UpdateReservationRequest(BaseModel):
    model_config = ConfigDict(title="UpdateReservationRequest")
    UltimoId: str = Field(..., pattern=ULTIMO_ID_PATTERN)
    StartTime: str | None = Field(
        None,
        pattern=TIME_PATTERN,
        description=TIME_FORMATS + " May be left out (or null) to keep it, except in strict mode.",
    )
    EndTime: str | None = Field(
        None,
        pattern=TIME_PATTERN,
        description=TIME_FORMATS + " May be left out (or null) to keep it, except in strict mode.",
    )


class CancelReservationRequest(BaseModel):
    model_config = ConfigDict(title="CancelReservationRequest")
    UltimoId: str = Field(..., pattern=ULTIMO_ID_PATTERN)


class GetReservationsRequest(BaseModel):
    model_config = ConfigDict(title="GetReservationsForSpaceRequest")
    SpaceId: str = Field(..., min_length=1, max_length=wire.MAX_ID_LENGTH, pattern=TEXT_PATTERN)
    From: str = Field(..., pattern=TIME_PATTERN, description=TIME_FORMATS)
    Till: str = Field(..., pattern=TIME_PATTERN, description=TIME_FORMATS)


class CreatedProperties(BaseModel):
    UltimoId: str = Field(..., pattern=r"^[0-9]{11}$", examples=["00000006712"])


class CreateReservationResponse(BaseModel):
    Properties: CreatedProperties


class EmptyProperties(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmptyResponse(BaseModel):
    properties: EmptyProperties


OUTPUT_TIME = Field(
    ...,
    pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}[+-][0-9]{2}:[0-9]{2}$",
    description="In the space's time zone, as `yyyy-MM-ddTHH:mm:ss.ffffff±HH:MM`.",
)


class ReservationItem(BaseModel):
    UltimoId: str = Field(..., pattern=r"^[0-9]{11}$")
    Description: str
    ApplicantId: str
    ApplicantName: str
    StartTime: str = OUTPUT_TIME
    EndTime: str = OUTPUT_TIME
    StartTimeIncludingPreparationTime: str = OUTPUT_TIME
    EndTimeIncludingCleanupTime: str = OUTPUT_TIME
    Status: Literal["Processed"] = Field(..., description="Get lists active reservations only.")


class Collection(BaseModel):
    collection: list[ReservationItem]


class Output(BaseModel):
    Output: Collection


class GetReservationsResponse(BaseModel):
    properties: Output


class ErrorBody(BaseModel):
    message: str
    type: str = Field(..., examples=["3"])
    code: str


class AuthErrorBody(BaseModel):
    message: str = Field(..., examples=["Missing API key"])
    code: str = Field(..., examples=["MissingApiKey"])


REQUEST_MODELS: dict[str, type[BaseModel]] = {
    wire.CREATE: CreateReservationRequest,
    wire.UPDATE: UpdateReservationRequest,
    wire.CANCEL: CancelReservationRequest,
    wire.GET: GetReservationsRequest,
}

RESPONSE_MODELS: dict[str, type[BaseModel]] = {
    wire.CREATE: CreateReservationResponse,
    wire.UPDATE: EmptyResponse,
    wire.CANCEL: EmptyResponse,
    wire.GET: GetReservationsResponse,
}

# The documentation's own examples, verbatim.
REQUEST_EXAMPLES: dict[str, dict[str, Any]] = {
    wire.CREATE: {
        "ExternalId": "DEMO01",
        "Description": "Team meeting Front office",
        "SpaceId": "C-25",
        "StartTime": "2021-06-14 12:00:00",
        "EndTime": "2021-06-14 13:00:00",
        "Applicant": "ULTIMO",
    },
    wire.UPDATE: {
        "UltimoId": "00000006712",
        "StartTime": "2021-06-14 12:00:00",
        "EndTime": "2021-06-14 13:00:00",
    },
    wire.CANCEL: {"UltimoId": "00000006712"},
    wire.GET: {"From": "2021-06-13 12:00:00", "Till": "2021-06-14 13:00:00", "SpaceId": "C-25"},
}

RESPONSE_EXAMPLES: dict[str, dict[str, Any]] = {
    wire.CREATE: {"Properties": {"UltimoId": "00000006712"}},
    wire.UPDATE: {"properties": {}},
    wire.CANCEL: {"properties": {}},
    wire.GET: {
        "properties": {
            "Output": {
                "collection": [
                    {
                        "UltimoId": "00000006710",
                        "Description": "Team meeting Front office",
                        "ApplicantId": "ULTIMO",
                        "ApplicantName": "Fasse, J.",
                        "StartTime": "2021-04-20T08:00:00.000000+12:00",
                        "EndTime": "2021-04-20T09:00:00.000000+12:00",
                        "StartTimeIncludingPreparationTime": "2021-04-20T08:00:00.000000+12:00",
                        "EndTimeIncludingCleanupTime": "2021-04-20T09:00:00.000000+12:00",
                        "Status": "Processed",
                    }
                ]
            }
        }
    },
}

SUMMARIES = {
    wire.CREATE: "Create a reservation for a space.",
    wire.UPDATE: "Move, shorten or extend a reservation.",
    wire.CANCEL: "Cancel a reservation.",
    wire.GET: "List a space's reservations in a time window.",
}

DESCRIPTIONS = {
    wire.CREATE: (
        "Books `SpaceId` from `StartTime` to `EndTime` for `ApplicantId`. The space is "
        "blocked from `StartTime` minus its preparation time to `EndTime` plus its "
        "cleanup time; an overlap with another reservation's blocked time answers `1015`. "
        "A non-empty `ExternalId` makes the request idempotent for the calling key."
    ),
    wire.UPDATE: (
        "Gives a reservation new times. A reservation that has ended answers `1166`; a "
        "running one keeps its start and may be shortened or extended."
    ),
    wire.CANCEL: (
        "Cancels a reservation. Cancelling a cancelled one succeeds again; one that has "
        "ended answers `1166`."
    ),
    wire.GET: (
        "Returns the active reservations whose `[StartTime, EndTime)` overlaps "
        "`[From, Till)`, ordered by start time then UltimoId, with times in the space's "
        "time zone. Windows longer than the configured maximum answer `WindowTooLarge`."
    ),
}

_ERROR_EXAMPLES: dict[str, dict[str, Any]] = {
    "conflict": {
        "summary": "1015: the space is not available",
        "value": {
            "message": "Room reservation cannot be requested or processed.\r\nCause: Meeting room 2 is not available.",
            "type": "3",
            "code": "1015",
        },
    },
    "past": {
        "summary": "1166: the reservation has ended",
        "value": {
            "message": "Room reservation cannot be modified.\r\nCause: Room reservation is in the past.",
            "type": "3",
            "code": "1166",
        },
    },
    "invalid_time": {
        "summary": "InvalidDateTime",
        "value": {
            "message": "StartTime '2021-02-30 10:00:00' is not a real calendar date and time.",
            "type": "3",
            "code": "InvalidDateTime",
        },
    },
}


def request_body(workflow: str) -> dict[str, Any]:
    schema = REQUEST_MODELS[workflow].model_json_schema()
    if workflow == wire.CREATE:
        # The documented example spells the applicant "Applicant": either name, not both.
        properties = schema["properties"]
        properties["Applicant"] = {**properties["ApplicantId"], "title": "Applicant"}
        properties["Applicant"]["description"] = "The documentation's name for `ApplicantId`."
        schema["required"] = [name for name in schema["required"] if name != "ApplicantId"]
        schema["oneOf"] = [{"required": ["ApplicantId"]}, {"required": ["Applicant"]}]
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": schema,
                    "example": REQUEST_EXAMPLES[workflow],
                }
            },
        }
    }


def responses(workflow: str) -> dict[int | str, dict[str, Any]]:
    errors = {"invalid_time": _ERROR_EXAMPLES["invalid_time"]}
    if workflow in (wire.CREATE, wire.UPDATE):
        errors["conflict"] = _ERROR_EXAMPLES["conflict"]
    if workflow in (wire.UPDATE, wire.CANCEL):
        errors["past"] = _ERROR_EXAMPLES["past"]
    error_content = {"application/json": {"examples": errors}}
    return {
        200: {
            "model": RESPONSE_MODELS[workflow],
            "description": "Done.",
            "content": {"application/json": {"example": RESPONSE_EXAMPLES[workflow]}},
        },
        400: {
            "model": ErrorBody,
            "description": "A business rule or the request's content refused it (also a "
            "header given twice); see the error catalogue in docs/errors.md.",
            "content": error_content,
        },
        401: {
            "model": AuthErrorBody,
            "description": "No API key, or an unknown or revoked one.",
            "content": {
                "application/json": {
                    "example": {"message": "Missing API key", "code": "MissingApiKey"}
                }
            },
        },
        403: {"model": ErrorBody, "description": "The key may not call this workflow."},
        413: {"model": ErrorBody, "description": "The body is larger than the limit."},
        415: {"model": ErrorBody, "description": "Strict mode: the body is not sent as JSON."},
        429: {
            "model": ErrorBody,
            "description": "A rate limit or quota is used up; retry after `Retry-After` seconds.",
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        },
        431: {"model": ErrorBody, "description": "The request headers are too large."},
        503: {
            "model": ErrorBody,
            "description": "The database is busy; retry.",
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        },
    }
