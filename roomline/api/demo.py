"""The demo clock: read it, pin it, shift it, move it forward, or hand it back to the
system clock."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from roomline.api.admin import require_admin
from roomline.api.standin import TAG, body_of, read_body_as
from roomline.domain.errors import InvalidParameter
from roomline.domain.times import parse_instant, zone_named
from roomline.services import clock

PREFIX = "/api/demo"
router = APIRouter(prefix=PREFIX, tags=[TAG], dependencies=[Depends(require_admin)])

# A shift beyond a century only ever pushed ``now`` out of datetime's range, which broke
# every later request of the demo server (found by schema-driven fuzzing).
MAX_SHIFT_SECONDS = 100 * 366 * 24 * 3600


class ClockState(BaseModel):
    now: datetime = Field(..., description="The server's current time (UTC).")
    pinned: bool = Field(..., description="Whether the clock stands still.")


class ClockChange(BaseModel):
    now: str | None = Field(
        None, description="Pin the clock at this ISO 8601 instant (with Z or an offset)."
    )
    shift_seconds: StrictInt | None = Field(
        None,
        ge=-MAX_SHIFT_SECONDS,
        le=MAX_SHIFT_SECONDS,
        description="Run the clock at system time plus this many seconds (at most a century).",
    )


def _state(request: Request) -> ClockState:
    with request.app.state.database.read() as conn:
        return ClockState(now=request.app.state.clock.now(conn), pinned=clock.is_pinned(conn))


@router.get("/clock", response_model=ClockState, summary="Read the demo clock.")
async def read_clock(request: Request) -> ClockState:
    """Return the demo server's current time."""
    return await run_in_threadpool(_state, request)


@router.put("/clock", response_model=ClockState, summary="Pin or shift the demo clock.")
async def set_clock(request: Request, change: ClockChange) -> ClockState:
    """Pin the clock at ``now``, or run it shifted by ``shift_seconds`` (0: system time)."""
    if (change.now is None) == (change.shift_seconds is None):
        raise InvalidParameter("Give exactly one of 'now' and 'shift_seconds'.")

    def apply() -> ClockState:
        with request.app.state.database.write() as conn:
            if change.now is not None:
                clock.pin(conn, parse_instant("now", change.now, zone_named("UTC")))
            else:
                clock.shift(conn, change.shift_seconds or 0)
        return _state(request)

    return await run_in_threadpool(apply)


class ClockAdvance(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"seconds": 3600}, {"duration": "P1DT2H"}]},
    )

    seconds: float | None = Field(
        None, ge=0, le=MAX_SHIFT_SECONDS, description="Move the clock this many seconds forward."
    )
    duration: str | None = Field(
        None, description="Or an ISO 8601 duration in weeks, days, hours, minutes and seconds."
    )


# Months and years have no fixed length: "P1M" would silently mean 30 days.
_CALENDAR_UNITS = re.compile(r"^[^T]*[YM]")
_DURATION = TypeAdapter(timedelta)


def advance_seconds(change: ClockAdvance) -> float:
    """Return how far ``change`` moves the clock, in seconds."""
    if (change.seconds is None) == (change.duration is None):
        raise InvalidParameter("Give exactly one of 'seconds' and 'duration'.")
    if change.seconds is not None:
        return change.seconds
    text = (change.duration or "").strip()
    if _CALENDAR_UNITS.match(text):
        raise InvalidParameter(
            f"duration {text[:50]!r} uses months or years, which have no fixed length; "
            "give weeks or days (P30D)."
        )
    try:
        seconds = _DURATION.validate_python(text).total_seconds()
    except ValidationError as exc:
        raise InvalidParameter(
            f"duration {text[:50]!r} is not an ISO 8601 duration such as PT1H or P1DT12H."
        ) from exc
    if not 0 <= seconds <= MAX_SHIFT_SECONDS:
        raise InvalidParameter(
            "duration moves the clock forward, by at most a century; "
            "PUT /api/demo/clock sets it anywhere."
        )
    return seconds


@router.post(
    "/clock/advance",
    response_model=ClockState,
    summary="Move the demo clock forward.",
    openapi_extra=body_of(ClockAdvance),
)
async def advance_clock(request: Request) -> ClockState:
    """Move the clock forward by ``seconds`` or an ISO 8601 ``duration`` (pinned or not);
    everything that depends on time follows."""
    seconds = advance_seconds(await read_body_as(request, ClockAdvance))

    def apply() -> ClockState:
        with request.app.state.database.write() as conn:
            try:
                clock.advance(conn, seconds)
            except OverflowError as exc:
                raise InvalidParameter("That would move the clock past the year 9999.") from exc
        return _state(request)

    return await run_in_threadpool(apply)
