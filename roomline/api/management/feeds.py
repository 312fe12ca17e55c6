"""``/api/manage/feeds``: create (the URL answered once), list and revoke calendar feeds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from roomline.api.management import schemas
from roomline.api.management.common import database, database_errors
from roomline.services import feeds as service
from roomline.storage.database import Database

router = APIRouter(prefix="/feeds")
Db = Annotated[Database, Depends(database)]


def public_base_url(request: Request) -> str:
    """Where people reach this server: ROOMLINE_PUBLIC_URL, else this request's address."""
    configured: str | None = request.app.state.settings.public_url
    return configured or str(request.base_url).rstrip("/")


@router.get("", response_model=list[schemas.CalendarFeed], summary="List calendar feeds.")
def list_feeds(
    db: Db, space: Annotated[str | None, Query(description="Only this space's feeds.")] = None
) -> Any:
    """Return every feed, active and revoked, oldest first; tokens are never stored."""
    with database_errors():
        return [service.feed_values(feed) for feed in service.list_feeds(db, space)]


@router.post(
    "", response_model=schemas.CreatedFeed, status_code=201, summary="Create a calendar feed."
)
def create_feed(request: Request, db: Db, body: schemas.NewFeed) -> Any:
    """Create the feed of a space or an applicant; the answer holds its secret URL, which
    is not shown again."""
    with database_errors():
        created = service.create_feed(
            db,
            now=datetime.now(UTC),
            space_id=body.space_id,
            applicant_id=body.applicant_id,
            name=body.name,
        )
    return service.created_values(created, public_base_url(request))


@router.delete("/{feed_id}", response_model=schemas.CalendarFeed, summary="Revoke a calendar feed.")
def revoke_feed(db: Db, feed_id: int) -> Any:
    """Revoke a feed: its URL answers 404 at once; it stays listed as revoked."""
    with database_errors():
        return service.feed_values(service.revoke_feed(db, feed_id, datetime.now(UTC)))
