"""The day timeline, the week view, and a reservation's page: look, book, move, cancel.

Every write builds the same parameters an Ultimo client would send and runs them through
the wire module's checks and ``ReservationService``, so the web view applies exactly the
API's rules and answers with its messages (a conflict shows the 1015 text).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from roomline.api.errors import status_for
from roomline.compat.ultimo import wire
from roomline.domain.errors import RoomlineError
from roomline.services import people as people_service
from roomline.services import spaces as space_service
from roomline.services import timeline
from roomline.services.door import DoorService
from roomline.web import layout
from roomline.web.blocking import run
from roomline.web.door import door_state
from roomline.web.pages import (
    NEW_FIELDS,
    actor,
    database,
    form_text,
    problem,
    redirect,
    render,
    reservations,
    wall_clock,
    web_zone,
    with_query,
)
from roomline.web.params import calendar_day, whole_number
from roomline.web.series import new_series, repeat_rule, repeat_values, series_service
from roomline.web.session import flash, require_csrf, require_signed_in

router = APIRouter(dependencies=[Depends(require_signed_in)])

SHIFTS = (-30, -15, 15, 30, 60)  # the quick "shorten" and "extend" buttons, in minutes


@router.get("/web", include_in_schema=False)
async def web_root() -> Response:
    return redirect("/web/")


@router.get("/web/", response_class=HTMLResponse, include_in_schema=False)
async def day_page(
    request: Request, date: str | None = None, q: str = "", state: str = "all"
) -> Response:
    """The day timeline: one row per space, hours across in each space's zone."""
    return await _day_page(request, date, q, state)


async def _day_page(
    request: Request,
    day_text: str | None,
    search: str,
    state: str,
    form: dict[str, str] | None = None,
    error: RoomlineError | None = None,
) -> Response:
    service = reservations(request)
    home_zone = web_zone(request)
    try:
        day = calendar_day("date", day_text)
        view = await run(timeline.day_view, service, day, home_zone, search, state)
    except RoomlineError as exc:
        return problem(request, exc)
    bookable = [s for s in await run(space_service.list_spaces, database(request)) if s.bookable]
    people = await run(people_service.list_people, database(request))
    today = view.now.astimezone(home_zone).date()
    return render(
        request,
        "timeline.html",
        status=status_for(error) if error else 200,
        view=view,
        tracks=[layout.track(row, view.now) for row in view.rows],
        today=today,
        home_zone=home_zone,
        previous_day=view.day - timedelta(days=1),
        next_day=view.day + timedelta(days=1),
        search=search,
        state=state,
        states=timeline.STATES,
        bookable=bookable,
        people=people,
        zones={s.id: (s.time_zone or service.policy.default_zone) for s in bookable},
        form=form or {"applicant_id": request.session.get("applicant", "")},
        error=error,
        back=with_query("/web/", date=view.day.isoformat(), q=search, state=state),
    )


@router.post("/web/reservations", dependencies=[Depends(require_csrf)], include_in_schema=False)
async def create_reservation(request: Request) -> Response:
    """Book a space from the timeline's form (or a range picked on it)."""
    form = await request.form()
    values = {name: form_text(form, name) for name in NEW_FIELDS} | repeat_values(form)
    back_to, day_text = form_text(form, "back"), form_text(form, "date")
    body = {
        "ExternalId": "",
        "Description": values["description"],
        "SpaceId": values["space_id"],
        "StartTime": wall_clock(values["start"]),
        "EndTime": wall_clock(values["end"]),
        "ApplicantId": values["applicant_id"],
    }
    try:
        rule = repeat_rule(form)
        if rule is not None:
            series = new_series({**values, "start": body["StartTime"], "end": body["EndTime"]},
                                rule, form)  # fmt: skip
            booked = await run(series_service(request).create, series, None, actor(request))
        else:
            request_values = wire.read_parameters(wire.CREATE, body, strict=False)
            created = await run(
                reservations(request).create,
                wire.new_reservation(request_values),
                None,
                actor(request),
            )
    except RoomlineError as exc:
        if back_to.startswith("/web/find"):  # booked from the "Find a room" page
            flash(request, f"Not booked: {exc.message}")
            return redirect(back_to)
        if back_to.startswith("/web/spaces/"):
            return await _week_page(request, values["space_id"], day_text, values, exc)
        return await _day_page(request, day_text, form_text(form, "q"), "all", values, exc)
    request.session["applicant"] = values["applicant_id"]
    if rule is not None:
        flash(
            request,
            f"Series {booked.series_id} booked: {len(booked.occurrences)} occurrences, "
            f"{len(booked.skipped)} skipped.",
        )
        return redirect(f"/web/series/{booked.series_id}")
    flash(request, f"Reservation {created:011d} created.")
    target = back_to if back_to.startswith("/web/") else "/web/"
    return redirect(f"{target}#r{created}")


@router.get(
    "/web/spaces/{space_id:path}/week", response_class=HTMLResponse, include_in_schema=False
)
async def week_page(request: Request, space_id: str, date: str | None = None) -> Response:
    """One space's week, Monday to Sunday, hours down."""
    return await _week_page(request, space_id, date)


async def _week_page(
    request: Request,
    space_id: str,
    day_text: str | None,
    form: dict[str, str] | None = None,
    error: RoomlineError | None = None,
) -> Response:
    try:
        view = await run(
            timeline.week_view, reservations(request), space_id, calendar_day("date", day_text)
        )
    except RoomlineError as exc:
        return problem(request, exc)
    people = await run(people_service.list_people, database(request))
    monday = view.days[0].day
    today = view.now.astimezone(view.zone).date()
    path = f"/web/spaces/{_quote(space_id)}/week"
    return render(
        request,
        "week.html",
        status=status_for(error) if error else 200,
        view=view,
        tracks=[layout.track(row, view.now) for row in view.days],
        today=today,
        previous_week=monday - timedelta(days=7),
        next_week=monday + timedelta(days=7),
        week_path=path,
        people=people,
        form=form or {"applicant_id": request.session.get("applicant", "")},
        error=error,
        back=with_query(path, date=monday.isoformat()),
    )


@router.get("/web/reservations/{ultimo_id}", response_class=HTMLResponse, include_in_schema=False)
async def reservation_page(request: Request, ultimo_id: str) -> Response:
    """One reservation: its details, and forms to move, shorten, extend or cancel it."""
    return await _reservation_page(request, ultimo_id)


async def _reservation_page(
    request: Request,
    ultimo_id: str,
    error: RoomlineError | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    try:
        found = await run(timeline.details, reservations(request), wire.ultimo_id(ultimo_id))
    except RoomlineError as exc:
        return problem(request, exc)
    reservation = found.entry.reservation
    state = (
        "cancelled"
        if not reservation.active
        else "past"
        if reservation.has_ended(found.now)
        else "running"
        if reservation.is_running(found.now)
        else "upcoming"
    )
    local_day = reservation.start.astimezone(found.zone).date()
    series_id = await run(series_service(request).series_of, reservation.ultimo_id)
    door = door_state(reservation, found.space, found.now, found.zone)
    minute = "%Y-%m-%dT%H:%M"
    return render(
        request,
        "reservation.html",
        status=status_for(error) if error else 200,
        details=found,
        reservation=reservation,
        series_id=series_id,
        state=state,
        door=door,
        shifts=SHIFTS,
        error=error,
        form=form
        or {
            "start": reservation.start.astimezone(found.zone).strftime(minute),
            "end": reservation.end.astimezone(found.zone).strftime(minute),
        },
        day_link=with_query("/web/", date=local_day.isoformat()),
        week_link=with_query(
            f"/web/spaces/{_quote(reservation.space_id)}/week", date=local_day.isoformat()
        ),
    )


@router.post(
    "/web/reservations/{ultimo_id}/times",
    dependencies=[Depends(require_csrf)],
    include_in_schema=False,
)
async def change_times(request: Request, ultimo_id: str) -> Response:
    """Move, shorten or extend: new start and end, or the end shifted by some minutes."""
    form = await request.form()
    service = reservations(request)
    values = {"start": form_text(form, "start"), "end": form_text(form, "end")}
    try:
        number = wire.ultimo_id(ultimo_id)
        body: dict[str, Any] = {"UltimoId": ultimo_id}
        shift = form_text(form, "shift_end")
        if shift:
            current = await run(timeline.details, service, number)
            body["EndTime"] = _utc_text(current.entry.reservation.end + _minutes(shift))
        else:
            if values["start"] and "keep_start" not in form:
                body["StartTime"] = wall_clock(values["start"])
            body["EndTime"] = wall_clock(values["end"])
        change = wire.time_change(wire.read_parameters(wire.UPDATE, body, strict=False), False)
        await run(service.update, change, actor(request))
    except RoomlineError as exc:
        return await _reservation_page(request, ultimo_id, exc, values)
    flash(request, f"Reservation {number:011d} changed.")
    return redirect(f"/web/reservations/{number:011d}")


@router.post(
    "/web/reservations/{ultimo_id}/cancel",
    dependencies=[Depends(require_csrf)],
    include_in_schema=False,
)
async def cancel_reservation(request: Request, ultimo_id: str) -> Response:
    """Cancel a reservation (the form asks for confirmation first)."""
    service = reservations(request)
    try:
        number = wire.ultimo_id(ultimo_id)
        await run(service.cancel, number, actor(request))
        found = await run(timeline.details, service, number)
    except RoomlineError as exc:
        return await _reservation_page(request, ultimo_id, exc)
    flash(request, f"Reservation {number:011d} cancelled.")
    local_day = found.entry.reservation.start.astimezone(found.zone).date()
    return redirect(with_query("/web/", date=local_day.isoformat()))


@router.post(
    "/web/reservations/{ultimo_id}/check-in",
    dependencies=[Depends(require_csrf)],
    include_in_schema=False,
)
async def check_in(request: Request, ultimo_id: str) -> Response:
    """Check in on someone's behalf (the same rules as at the door)."""
    return await _at_the_door(request, ultimo_id, "check_in", "checked in")


@router.post(
    "/web/reservations/{ultimo_id}/end",
    dependencies=[Depends(require_csrf)],
    include_in_schema=False,
)
async def end_now(request: Request, ultimo_id: str) -> Response:
    """End a running reservation now."""
    return await _at_the_door(request, ultimo_id, "end_early", "ended")


async def _at_the_door(request: Request, ultimo_id: str, use_case: str, done: str) -> Response:
    door: DoorService = request.app.state.door
    try:
        number = wire.ultimo_id(ultimo_id)
        await run(getattr(door, use_case), number, actor(request))
    except RoomlineError as exc:
        return await _reservation_page(request, ultimo_id, exc)
    flash(request, f"Reservation {number:011d} {done}.")
    return redirect(f"/web/reservations/{number:011d}")


def _minutes(text: str) -> timedelta:
    return timedelta(minutes=whole_number("shift_end", text, -99_999, 99_999))


def _utc_text(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _quote(text: str) -> str:
    return quote(text, safe="")
