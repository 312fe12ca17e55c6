"""The demo clock: read it, pin it, shift it, or hand it back to the system clock."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, StrictInt
from starlette.concurrency import run_in_threadpool

from roomline.api.admin import require_admin
from roomline.domain.errors import InvalidParameter
from roomline.domain.times import parse_instant, zone_named
from roomline.services import clock

PREFIX = "/api/demo"
router = APIRouter(prefix=PREFIX, tags=["Demo"], dependencies=[Depends(require_admin)])

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
