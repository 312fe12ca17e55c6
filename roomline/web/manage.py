"""Pages to list, add, edit and remove spaces and people.

They call the management services (``services/spaces.py``, ``services/people.py``), the
same as the management API and the CLI, so the rules and messages are the same.
"""

from __future__ import annotations

import functools
import zoneinfo
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from roomline.api.errors import status_for
from roomline.domain.errors import RoomlineError
from roomline.domain.masterdata import person_values, space_values
from roomline.services import people as people_service
from roomline.services import spaces as space_service
from roomline.web.blocking import run
from roomline.web.pages import database, problem, redirect, render
from roomline.web.session import flash, require_csrf, require_signed_in

router = APIRouter(dependencies=[Depends(require_signed_in)], include_in_schema=False)
csrf = [Depends(require_csrf)]
SPACE_TEXT_FIELDS = (
    "description",
    "time_zone",
    "preparation_minutes",
    "cleanup_minutes",
    "capacity",
    "building",
    "floor",
    "features",
    "check_in_opens_minutes",
    "auto_release_minutes",
)


@functools.cache
def zone_names() -> list[str]:
    """Every IANA zone name, for the time zone field's suggestions."""
    return sorted(zoneinfo.available_timezones())


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _space_form(form: FormData, with_id: bool) -> dict[str, Any]:
    values: dict[str, Any] = {name: _text(form, name) for name in SPACE_TEXT_FIELDS}
    values["bookable"] = "true" if form.get("bookable") else "false"
    values["check_in_required"] = "true" if form.get("check_in_required") else "false"
    if with_id:
        values["id"] = _text(form, "id")
    return values


def _form_values(values: dict[str, Any]) -> dict[str, Any]:
    """A space's values as its form shows them: features as text joined by commas."""
    return {**values, "features": ", ".join(values["features"])}


# Spaces


@router.get("/web/spaces", response_class=HTMLResponse)
async def spaces_page(request: Request) -> Response:
    return await _spaces_page(request)


async def _spaces_page(
    request: Request, form: dict[str, Any] | None = None, error: RoomlineError | None = None
) -> Response:
    spaces = await run(space_service.list_spaces, database(request))
    return render(
        request,
        "spaces.html",
        status=status_for(error) if error else 200,
        spaces=spaces,
        form=form or {"bookable": "true"},
        error=error,
        zones=zone_names(),
        default_zone=request.app.state.settings.default_time_zone,
    )


@router.post("/web/spaces", dependencies=csrf)
async def add_space(request: Request) -> Response:
    values = _space_form(await request.form(), with_id=True)
    try:
        space = await run(space_service.add_space, database(request), values)
    except RoomlineError as exc:
        return await _spaces_page(request, values, exc)
    flash(request, f"Space {space.id} added.")
    return redirect("/web/spaces")


@router.get("/web/spaces/{space_id:path}/edit", response_class=HTMLResponse)
async def edit_space_page(request: Request, space_id: str) -> Response:
    try:
        space = await run(space_service.get_space, database(request), space_id)
    except RoomlineError as exc:
        return problem(request, exc)
    return _edit_space(request, space_id, _form_values(space_values(space)))


def _edit_space(
    request: Request,
    space_id: str,
    form: dict[str, Any],
    error: RoomlineError | None = None,
) -> Response:
    return render(
        request,
        "space_edit.html",
        status=status_for(error) if error else 200,
        space_id=space_id,
        form=form,
        error=error,
        zones=zone_names(),
        default_zone=request.app.state.settings.default_time_zone,
    )


@router.post("/web/spaces/{space_id:path}/edit", dependencies=csrf)
async def edit_space(request: Request, space_id: str) -> Response:
    values = _space_form(await request.form(), with_id=False)
    try:
        await run(space_service.update_space, database(request), space_id, values)
    except RoomlineError as exc:
        return _edit_space(request, space_id, {**values, "id": space_id}, exc)
    flash(request, f"Space {space_id} saved.")
    return redirect("/web/spaces")


@router.post("/web/spaces/{space_id:path}/remove", dependencies=csrf)
async def remove_space(request: Request, space_id: str) -> Response:
    try:
        await run(space_service.remove_space, database(request), space_id)
    except RoomlineError as exc:
        try:
            space = await run(space_service.get_space, database(request), space_id)
        except RoomlineError:
            return problem(request, exc)
        return _edit_space(request, space_id, _form_values(space_values(space)), exc)
    flash(request, f"Space {space_id} removed.")
    return redirect("/web/spaces")


# People


@router.get("/web/people", response_class=HTMLResponse)
async def people_page(request: Request) -> Response:
    return await _people_page(request)


async def _people_page(
    request: Request, form: dict[str, Any] | None = None, error: RoomlineError | None = None
) -> Response:
    people = await run(people_service.list_people, database(request))
    return render(
        request,
        "people.html",
        status=status_for(error) if error else 200,
        people=people,
        form=form or {},
        error=error,
    )


@router.post("/web/people", dependencies=csrf)
async def add_person(request: Request) -> Response:
    form = await request.form()
    values = {"id": _text(form, "id"), "name": _text(form, "name")}
    try:
        person = await run(people_service.add_person, database(request), values)
    except RoomlineError as exc:
        return await _people_page(request, values, exc)
    flash(request, f"Person {person.id} added.")
    return redirect("/web/people")


@router.get("/web/people/{person_id:path}/edit", response_class=HTMLResponse)
async def edit_person_page(request: Request, person_id: str) -> Response:
    try:
        person = await run(people_service.get_person, database(request), person_id)
    except RoomlineError as exc:
        return problem(request, exc)
    return _edit_person(request, person_id, person_values(person))


def _edit_person(
    request: Request, person_id: str, form: dict[str, Any], error: RoomlineError | None = None
) -> Response:
    return render(
        request,
        "person_edit.html",
        status=status_for(error) if error else 200,
        person_id=person_id,
        form=form,
        error=error,
    )


@router.post("/web/people/{person_id:path}/edit", dependencies=csrf)
async def edit_person(request: Request, person_id: str) -> Response:
    values = {"name": _text(await request.form(), "name")}
    try:
        await run(people_service.update_person, database(request), person_id, values)
    except RoomlineError as exc:
        return _edit_person(request, person_id, {**values, "id": person_id}, exc)
    flash(request, f"Person {person_id} saved.")
    return redirect("/web/people")


@router.post("/web/people/{person_id:path}/remove", dependencies=csrf)
async def remove_person(request: Request, person_id: str) -> Response:
    try:
        await run(people_service.remove_person, database(request), person_id)
    except RoomlineError as exc:
        try:
            person = await run(people_service.get_person, database(request), person_id)
        except RoomlineError:
            return problem(request, exc)
        return _edit_person(request, person_id, person_values(person), exc)
    flash(request, f"Person {person_id} removed.")
    return redirect("/web/people")
