"""The "Find a room" page: free spaces for a time, booked with one click, and a free/busy
grid of the results over that day.

It asks the same services as ``/api/booking/free-spaces`` and ``/schedule`` (on the
event loop, as they do), and books
through the timeline's form handler (``POST /web/reservations``), so the rules and
messages are those of every other way in.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from roomline.api.errors import status_for
from roomline.domain.errors import InvalidParameter, RoomlineError
from roomline.services import availability
from roomline.services import people as people_service
from roomline.storage.hotpath import HotPaths
from roomline.web.blocking import run
from roomline.web.pages import database, render, reservations
from roomline.web.session import require_signed_in

router = APIRouter(dependencies=[Depends(require_signed_in)], include_in_schema=False)
DURATIONS = (15, 30, 45, 60, 90, 120, 180, 240)
SHOWN = 50  # results shown, and rows of the free/busy grid (a schedule holds up to 100)
GRID_INTERVAL = 60


@router.get("/web/find", response_class=HTMLResponse)
async def find_page(
    request: Request,
    date: str = "",
    time: str = "",
    duration: str = "60",
    capacity: str = "",
    features: str = "",
    building: str = "",
    applicant: str = "",
) -> Response:
    """Search free spaces at a time; each result books with one click."""
    service = reservations(request)
    form = {
        "date": date,
        "time": time,
        "duration": duration,
        "capacity": capacity,
        "features": features,
        "building": building,
        "applicant_id": applicant.strip() or request.session.get("applicant", ""),
    }
    people = await run(people_service.list_people, database(request))
    context: dict[str, Any] = {"form": form, "durations": DURATIONS, "people": people}
    if not (date and time):
        return render(request, "find.html", results=None, grid=None, error=None, **context)
    try:
        start, end, day = _window(date, time, duration)
        wanted = availability.space_filter(_whole(capacity, "capacity"), features, building)
        # On the event loop, as /api/booking's searches (``HotPaths.read``).
        hot: HotPaths = request.app.state.ultimo.hot
        found = await hot.read(
            lambda path: availability.free_spaces(path, service.policy, wanted, start, end, SHOWN)
        )
        grid = (
            await hot.read(
                lambda path: availability.schedules(
                    path,
                    service.policy,
                    day.isoformat() + "T00:00:00",
                    (day + timedelta(days=1)).isoformat() + "T00:00:00",
                    GRID_INTERVAL,
                    [space.id for space, _ in found],
                )
            )
            if found
            else []
        )
    except RoomlineError as exc:
        return render(
            request,
            "find.html",
            status=status_for(exc),
            results=None,
            grid=None,
            error=exc,
            **context,
        )
    return render(
        request,
        "find.html",
        results=found,
        grid=grid,
        error=None,
        start=start,
        end=end,
        back=str(request.url.path) + ("?" + request.url.query if request.url.query else ""),
        hours=[f"{hour:02d}" for hour in range(24)],
        **context,
    )


def _window(day_text: str, time_text: str, duration_text: str) -> tuple[str, str, date]:
    """Wall-clock start and end (each space's own zone) and the day, from the form."""
    try:
        day = date.fromisoformat(day_text.strip())
        start = datetime.combine(day, datetime.strptime(time_text.strip(), "%H:%M").time())
    except ValueError as exc:
        raise InvalidParameter("Give a date (yyyy-mm-dd) and a time (HH:MM).") from exc
    minutes = _whole(duration_text, "duration")
    if minutes is None or not 1 <= minutes <= 24 * 60:
        raise InvalidParameter("duration must be between 1 and 1440 minutes.")
    end = start + timedelta(minutes=minutes)
    return start.isoformat(), end.isoformat(), day


def _whole(text: str, field: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 7:
        raise InvalidParameter(f"{field} must be a whole number, not {text[:20]!r}.")
    return int(text)
