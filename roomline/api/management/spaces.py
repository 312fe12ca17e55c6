"""``/api/manage/spaces``: the same use cases as ``roomline spaces``."""

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
from roomline.domain.masterdata import space_values
from roomline.services import spaces as service
from roomline.services.transfer import FileFormat, format_named
from roomline.storage.database import Database

router = APIRouter(prefix="/spaces")
Db = Annotated[Database, Depends(database)]
Format = Annotated[str | None, Query(alias="format", description="csv or json (default: json)")]


@router.get(
    "",
    response_model=list[schemas.Space],
    responses=EXPORT_RESPONSES,
    summary="List (export) every space.",
)
def list_spaces(db: Db, file_format: Format = None) -> Any:
    """Return every space as JSON, or with ``format=csv`` as a CSV file for import."""
    fmt = format_named(file_format or "json")
    with database_errors():
        if fmt is FileFormat.CSV:
            return Response(service.export_spaces(db, fmt), media_type="text/csv; charset=utf-8")
        return [space_values(space) for space in service.list_spaces(db)]


@router.post("", response_model=schemas.Space, status_code=201, summary="Add a space.")
def add_space(db: Db, body: schemas.NewSpace) -> Any:
    """Add a space; 409 AlreadyExists if its id is taken."""
    with database_errors():
        return space_values(service.add_space(db, body.model_dump()))


@router.post(
    "/import",
    response_model=schemas.ImportResult,
    summary="Import spaces (CSV or JSON), all or nothing.",
    openapi_extra=IMPORT_BODY,
)
async def import_spaces(request: Request, file_format: Format = None) -> Any:
    """Add or update every space in the body; a bad row answers 400 ImportRejected with
    its line, and nothing is stored."""
    records = await import_body(request, file_format)
    db = database(request)

    def run() -> Any:
        with database_errors():
            return service.import_spaces(db, records)

    result = await run_in_threadpool(run)
    return {"added": result.added, "updated": result.updated}


@router.get("/{space_id:path}", response_model=schemas.Space, summary="Read a space.")
def get_space(db: Db, space_id: str) -> Any:
    """Return one space; 404 RecordNotFound if there is none."""
    with database_errors():
        return space_values(service.get_space(db, space_id))


@router.patch("/{space_id:path}", response_model=schemas.Space, summary="Change a space.")
def update_space(db: Db, space_id: str, body: schemas.SpaceChange) -> Any:
    """Change the fields given in the body; the id stays."""
    with database_errors():
        return space_values(service.update_space(db, space_id, body.model_dump(exclude_unset=True)))


@router.delete("/{space_id:path}", status_code=204, summary="Remove a space.")
def remove_space(db: Db, space_id: str) -> Response:
    """Remove a space; 409 StillReferenced if reservations name it."""
    with database_errors():
        service.remove_space(db, space_id)
    return Response(status_code=204)
