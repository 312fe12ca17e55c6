"""Recurring reservations in the web view: the booking dialog's "Repeat" choice, its
preview, and a series' page.

The dialog's choice (none, daily, weekly on chosen days, monthly; until a date or a
count) becomes an RRULE here, and everything else goes through ``SeriesService`` like the
API, with the same rules and messages.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import FormData

from roomline.api.errors import status_for
from roomline.domain.errors import InvalidParameter, RoomlineError
from roomline.domain.recurrence import ConflictPolicy
from roomline.services.series import NewSeries, SeriesService, outcome_values, series_values
from roomline.web.blocking import run
from roomline.web.pages import (
    NEW_FIELDS,
    actor,
    form_text,
    problem,
    redirect,
    render,
    templates,
    wall_clock,
)
from roomline.web.session import flash, require_csrf, require_signed_in

router = APIRouter(dependencies=[Depends(require_signed_in)])

REPEATS = ("none", "daily", "weekly", "monthly")
WEEKDAYS = (("MO", "Mon"), ("TU", "Tue"), ("WE", "Wed"), ("TH", "Thu"), ("FR", "Fri"),
            ("SA", "Sat"), ("SU", "Sun"))  # fmt: skip
templates.env.globals.update(weekdays=WEEKDAYS)  # the booking dialog's day choices


def series_service(request: Request) -> SeriesService:
    service: SeriesService = request.app.state.series
    return service


def repeat_rule(form: FormData) -> str | None:
    """Return the RRULE the dialog's Repeat choice makes, or None for "does not repeat"."""
    repeat = form_text(form, "repeat") or "none"
    if repeat not in REPEATS:
        raise InvalidParameter(f"Repeat {repeat!r} is not one of {', '.join(REPEATS)}.")
    if repeat == "none":
        return None
    parts = [f"FREQ={repeat.upper()}"]
    if repeat == "weekly":
        days = [day for day, _ in WEEKDAYS if day in form.getlist("byday")]
        if days:  # none chosen: the first occurrence's weekday
            parts.append("BYDAY=" + ",".join(days))
    if form_text(form, "ends") == "until":
        until = form_text(form, "until")
        try:
            parts.append("UNTIL=" + date.fromisoformat(until).strftime("%Y%m%d"))
        except ValueError as exc:
            raise InvalidParameter(f"Repeat until {until!r} is not a date.") from exc
    else:
        count = form_text(form, "count")
        if not (count.isascii() and count.isdigit()):
            raise InvalidParameter(f"Repeat {count!r} times: give a number of occurrences.")
        parts.append(f"COUNT={int(count)}")
    return ";".join(parts)


def new_series(values: dict[str, str], rule: str, form: FormData) -> NewSeries:
    """The series the booking dialog asks for (``values``: its reservation fields)."""
    policy = form_text(form, "on_conflict") or ConflictPolicy.SKIP.value
    if policy not in {p.value for p in ConflictPolicy}:
        raise InvalidParameter(f"If a slot is taken: {policy!r} is not fail or skip.")
    return NewSeries(
        space_id=values["space_id"],
        applicant_id=values["applicant_id"],
        start=values["start"],
        end=values["end"],
        rrule=rule,
        description=values["description"],
        on_conflict=ConflictPolicy(policy),
    )


@router.post("/web/series/preview", dependencies=[Depends(require_csrf)], include_in_schema=False)
async def preview(request: Request) -> Response:
    """What the booking dialog's series would book and skip, as JSON for its preview."""
    form = await request.form()
    values = {name: form_text(form, name) for name in NEW_FIELDS}
    values["start"], values["end"] = wall_clock(values["start"]), wall_clock(values["end"])
    try:
        rule = repeat_rule(form)
        if rule is None:
            raise InvalidParameter("Choose how the reservation repeats to see its occurrences.")
        outcome = await run(series_service(request).preview, new_series(values, rule, form))
    except RoomlineError as exc:
        body = {"message": exc.message, "code": exc.code}
        return JSONResponse(body, status_code=status_for(exc))
    return JSONResponse({**outcome_values(outcome), "rrule": rule})


@router.get("/web/series/{series_id}", response_class=HTMLResponse, include_in_schema=False)
async def series_page(request: Request, series_id: int) -> Response:
    """A series: its rule and every occurrence, each linked to its own page."""
    try:
        view = await run(series_service(request).get, series_id)
        now = await run(series_service(request).now)
    except RoomlineError as exc:
        return problem(request, exc)
    values = series_values(view)
    upcoming = [
        o for o in view.occurrences
        if o.reservation.active and not o.exception and not o.reservation.has_ended(now)
    ]  # fmt: skip
    return render(request, "series.html", series=values, view=view, upcoming=len(upcoming))


@router.post(
    "/web/series/{series_id}/cancel", dependencies=[Depends(require_csrf)], include_in_schema=False
)
async def cancel_series(request: Request, series_id: int) -> Response:
    """Cancel every occurrence of a series that has not ended, leaving exceptions alone."""
    try:
        _, cancelled = await run(series_service(request).cancel, series_id, None, actor(request))
    except RoomlineError as exc:
        return problem(request, exc)
    flash(request, f"Cancelled {len(cancelled)} occurrences of series {series_id}.")
    return redirect(f"/web/series/{series_id}")


def repeat_values(form: FormData) -> dict[str, str]:
    """The dialog's Repeat fields as sent, to show them again with a refusal."""
    values = {name: form_text(form, name) for name in ("repeat", "ends", "count", "until")}
    values["on_conflict"] = form_text(form, "on_conflict")
    values["byday"] = ",".join(str(day) for day in form.getlist("byday"))
    return values
