"""``/api/manage/people``: the same use cases as ``roomline people``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from roomline.api.management import schemas
from roomline.api.management.common import (
    EXPORT_RESPONSES,
    IMPORT_BODY,
    database,
    database_errors,
    import_body,
)
from roomline.domain.masterdata import person_values
from roomline.services import people as service
from roomline.services.transfer import FileFormat, format_named
from roomline.storage.database import Database

router = APIRouter(prefix="/people")
Db = Annotated[Database, Depends(database)]
Format = Annotated[str | None, Query(alias="format", description="csv or json (default: json)")]


@router.get(
    "",
    response_model=list[schemas.Person],
    responses=EXPORT_RESPONSES,
    summary="List (export) every person.",
)
def list_people(db: Db, file_format: Format = None) -> Any:
    """Return every person as JSON, or with ``format=csv`` as a CSV file for import."""
    fmt = format_named(file_format or "json")
    with database_errors():
        if fmt is FileFormat.CSV:
            return Response(service.export_people(db, fmt), media_type="text/csv; charset=utf-8")
        return [person_values(person) for person in service.list_people(db)]


@router.post("", response_model=schemas.Person, status_code=201, summary="Add a person.")
def add_person(db: Db, body: schemas.Person) -> Any:
    """Add a person; 409 AlreadyExists if the id is taken."""
    with database_errors():
        return person_values(service.add_person(db, body.model_dump()))


@router.post(
    "/import",
    response_model=schemas.ImportResult,
    summary="Import people (CSV or JSON), all or nothing.",
    openapi_extra=IMPORT_BODY,
)
async def import_people(request: Request, file_format: Format = None) -> Any:
    """Add or update every person in the body; a bad row answers 400 ImportRejected with
    its line, and nothing is stored."""
    records = await import_body(request, file_format)
    db = database(request)

    def run() -> Any:
        with database_errors():
            return service.import_people(db, records)

    result = await run_in_threadpool(run)
    return {"added": result.added, "updated": result.updated}


@router.get("/{person_id:path}", response_model=schemas.Person, summary="Read a person.")
def get_person(db: Db, person_id: str) -> Any:
    """Return one person; 404 RecordNotFound if there is none."""
    with database_errors():
        return person_values(service.get_person(db, person_id))


@router.patch("/{person_id:path}", response_model=schemas.Person, summary="Rename a person.")
def update_person(db: Db, person_id: str, body: schemas.PersonChange) -> Any:
    """Change a person's name; the id stays."""
    with database_errors():
        return person_values(service.update_person(db, person_id, body.model_dump()))


@router.delete("/{person_id:path}", status_code=204, summary="Remove a person.")
def remove_person(db: Db, person_id: str) -> Response:
    """Remove a person; 409 StillReferenced if reservations name them."""
    with database_errors():
        service.remove_person(db, person_id)
    return Response(status_code=204)
