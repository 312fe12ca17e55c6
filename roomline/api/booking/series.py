"""``/api/booking/series``: recurring reservations (grant ``series``).

Every occurrence is an ordinary reservation with its own UltimoId; the rules live in
``services/series.py`` and ``domain/recurrence.py``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from roomline.api.booking.access import Caller, grant
from roomline.api.management.common import database_errors
from roomline.domain.recurrence import ConflictPolicy
from roomline.services.series import (
    NewSeries,
    SeriesChange,
    SeriesService,
    outcome_values,
    series_values,
)
from roomline.storage.hotpath import HotPaths

router = APIRouter()

# No control characters in ids, times and rules; a description may hold tab, CR and LF.
PLAIN = r"^[^\x00-\x1f\x7f]*$"
PROSE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
Moment = Annotated[str, Field(max_length=64, pattern=PLAIN)]
SeriesId = Annotated[int, Path(ge=1, le=2_147_483_647)]

CONFLICT_EXAMPLE = {
    "message": "Room reservation cannot be requested or processed.\r\nCause: C-25 is not "
    "available.",
    "code": "1015",
    "details": [
        {
            "start": "2030-01-21T09:00:00+13:00",
            "end": "2030-01-21T10:00:00+13:00",
            "code": "1015",
            "message": "Room reservation cannot be requested or processed.\r\nCause: C-25 is "
            "not available.",
        }
    ],
}


class SeriesRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "space_id": "C-25",
                    "applicant_id": "ULTIMO",
                    "description": "Weekly team meeting",
                    "start": "2030-01-07T09:00:00",
                    "end": "2030-01-07T10:00:00",
                    "rrule": "FREQ=WEEKLY;BYDAY=MO;COUNT=10",
                    "exdates": ["2030-01-21T09:00:00"],
                    "external_id": "team-meeting-2030",
                    "on_conflict": "skip",
                }
            ]
        },
    )

    space_id: str = Field(..., min_length=1, max_length=255, pattern=PLAIN)
    applicant_id: str = Field(..., min_length=1, max_length=255, pattern=PLAIN)
    description: str = Field("", max_length=2000, pattern=PROSE)
    start: Moment = Field(..., description="start of the first occurrence")
    end: Moment = Field(..., description="end of the first occurrence")
    rrule: str = Field(
        ...,
        min_length=1,
        max_length=1000,
        pattern=PLAIN,
        description="RFC 5545 RRULE: FREQ DAILY, WEEKLY or MONTHLY; INTERVAL, BYDAY (2TU, "
        "-1FR), BYMONTHDAY, BYMONTH, BYSETPOS, WKST; COUNT or UNTIL",
    )
    exdates: list[Moment] = Field(
        [], max_length=1000, description="starts of occurrences to leave out"
    )
    external_id: str = Field(
        "", max_length=255, pattern=PLAIN, description="makes the create idempotent per API key"
    )
    on_conflict: ConflictPolicy = Field(
        ConflictPolicy.FAIL,
        description="fail: store nothing if any occurrence conflicts; skip: book the free ones",
    )

    def new_series(self) -> NewSeries:
        return NewSeries(
            space_id=self.space_id,
            applicant_id=self.applicant_id,
            start=self.start,
            end=self.end,
            rrule=self.rrule,
            description=self.description,
            exdates=tuple(self.exdates),
            external_id=self.external_id,
            on_conflict=self.on_conflict,
        )


class SeriesEdit(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"from": "2030-01-14T09:00:00+13:00", "time_of_day": "10:00", "on_conflict": "fail"}
            ]
        },
    )

    from_: Moment | None = Field(
        None,
        alias="from",
        description="the start of the first occurrence to change; default: every one not "
        "yet started",
    )
    time_of_day: str | None = Field(
        None, max_length=16, pattern=PLAIN, description="new wall-clock start, HH:MM"
    )
    duration_minutes: int | None = Field(None, ge=1, le=7 * 24 * 60)
    description: str | None = Field(None, max_length=2000, pattern=PROSE)
    on_conflict: ConflictPolicy = ConflictPolicy.FAIL


class SeriesCancel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_: Moment | None = Field(
        None,
        alias="from",
        description="the start of the first occurrence to cancel; default: every one not yet ended",
    )


class BookedOccurrence(BaseModel):
    ultimo_id: str | None = Field(..., examples=["00000006712"])
    start: str = Field(..., examples=["2030-01-07T09:00:00+13:00"])
    end: str = Field(..., examples=["2030-01-07T10:00:00+13:00"])


class SkippedOccurrence(BaseModel):
    start: str = Field(..., description="without offset if the time does not exist (DST gap)")
    end: str
    code: str = Field(..., examples=["1015", "InvalidDateTime", "StartTimeInPast"])
    message: str


class SeriesBooked(BaseModel):
    series_id: int | None = Field(..., description="null in a preview")
    occurrences: list[BookedOccurrence]
    skipped: list[SkippedOccurrence]


class SeriesOccurrence(BookedOccurrence):
    status: str = Field(..., description="Processed or Cancelled")
    exception: bool = Field(..., description="changed or cancelled on its own")


class SeriesShown(BaseModel):
    series_id: int
    space_id: str
    applicant_id: str
    applicant_name: str
    description: str
    rrule: str
    exdates: list[str]
    start: str = Field(..., description="start of the first occurrence booked")
    end: str
    external_id: str
    occurrences: list[SeriesOccurrence]
    exceptions: list[str] = Field(..., description="UltimoIds of the exceptions")
    skipped: list[SkippedOccurrence] = Field(..., description="left out when it was created")


class SeriesCancelled(SeriesShown):
    cancelled: list[str] = Field(..., description="UltimoIds this request cancelled")


def _service(request: Request) -> SeriesService:
    service: SeriesService = request.app.state.series
    return service


def _hot(request: Request) -> HotPaths:
    """Where the series use cases run: the reads (preview, get) as the Ultimo workflows',
    the writes (many rows each) in a transaction of their own (``HotPaths.transaction``:
    on the event loop on PostgreSQL, in a thread on SQLite)."""
    hot: HotPaths = request.app.state.ultimo.hot
    return hot


@router.post(
    "/series",
    status_code=201,
    response_model=SeriesBooked,
    responses={400: {"content": {"application/json": {"example": CONFLICT_EXAMPLE}}}},
)
async def create_series(
    request: Request, body: SeriesRequest, caller: Caller = Depends(grant("series"))
) -> dict[str, Any]:
    """Book a recurring reservation; every occurrence is a reservation with its own UltimoId.

    `on_conflict: fail` (default) stores nothing if any occurrence conflicts and answers
    400 `1015` with every conflicting occurrence in `details`; `skip` books the free ones
    and lists the others in `skipped`. Occurrences in a DST gap are skipped either way.
    """
    service, wanted = _service(request), body.new_series()
    with database_errors():
        outcome = await _hot(request).transaction(
            lambda tx: service.create_on(tx, wanted, caller.key.id, caller.actor)
        )
    return outcome_values(outcome)


@router.post("/series/preview", response_model=SeriesBooked)
async def preview_series(
    request: Request, body: SeriesRequest, caller: Caller = Depends(grant("series"))
) -> dict[str, Any]:
    """Show the occurrences a create would book now and those it would skip (conflicts
    whatever `on_conflict` says), storing nothing."""
    service, wanted = _service(request), body.new_series()
    with database_errors():
        outcome = await _hot(request).read(lambda path: service.preview_on(path, wanted))
    return outcome_values(outcome)


@router.get("/series/{series_id:int}", response_model=SeriesShown)
async def get_series(
    request: Request, series_id: SeriesId, caller: Caller = Depends(grant("series"))
) -> dict[str, Any]:
    """Read a series: its rule, every occurrence with its status, and its exceptions."""
    service = _service(request)
    with database_errors():
        view = await _hot(request).read(lambda path: service.view_on(path, series_id))
    return series_values(view)


@router.patch("/series/{series_id:int}", response_model=SeriesBooked)
async def update_series(
    request: Request,
    series_id: SeriesId,
    body: SeriesEdit,
    caller: Caller = Depends(grant("series")),
) -> dict[str, Any]:
    """Change the time of day, duration or description of every occurrence from `from` on.

    Exceptions, cancelled occurrences and those that have started stay as they are.
    Conflicts follow `on_conflict` as in create.
    """
    change = SeriesChange(
        series_id=series_id,
        from_time=body.from_,
        time_of_day=body.time_of_day,
        duration_minutes=body.duration_minutes,
        description=body.description,
        on_conflict=body.on_conflict,
    )
    service = _service(request)
    with database_errors():
        outcome = await _hot(request).transaction(
            lambda tx: service.update_on(tx, change, caller.actor)
        )
    return outcome_values(outcome)


@router.post("/series/{series_id:int}/cancel", response_model=SeriesCancelled)
async def cancel_series(
    request: Request,
    series_id: SeriesId,
    body: SeriesCancel | None = Body(None),
    caller: Caller = Depends(grant("series")),
) -> dict[str, Any]:
    """Cancel every occurrence from `from` on (default: every one that has not ended),
    leaving exceptions as they are."""
    from_time = body.from_ if body is not None else None
    service = _service(request)
    with database_errors():
        view, cancelled = await _hot(request).transaction(
            lambda tx: service.cancel_on(tx, series_id, from_time, caller.actor)
        )
    return {**series_values(view), "cancelled": [f"{number:011d}" for number in cancelled]}
