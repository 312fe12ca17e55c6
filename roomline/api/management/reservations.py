"""``/api/manage/reservations``: every reservation, filtered, as ``roomline reservations``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from roomline.api.management import schemas
from roomline.api.management.common import database, database_errors
from roomline.services.reservation_listing import (
    DEFAULT_LIMIT,
    list_reservations,
    reservation_values,
)
from roomline.storage.database import Database

router = APIRouter(prefix="/reservations")
Db = Annotated[Database, Depends(database)]
TIME = (
    "'yyyy-MM-dd HH:mm:ss' (wall-clock in the space's zone, or the server's default zone "
    "without space), 'yyyy-MM-ddTHH:mm:ssZ', or ISO 8601 with an offset"
)


@router.get("", response_model=schemas.ReservationList, summary="List reservations.")
def list_(
    request: Request,
    db: Db,
    space: Annotated[str | None, Query(description="Only this space.")] = None,
    from_time: Annotated[
        str | None, Query(alias="from", description=f"Only those ending after this: {TIME}.")
    ] = None,
    till_time: Annotated[
        str | None, Query(alias="till", description="Only those starting before this.")
    ] = None,
    status: Annotated[
        str | None, Query(description="Processed, Cancelled or all (default).")
    ] = None,
    limit: Annotated[int, Query(description="At most this many (truncated says if more).")] = (
        DEFAULT_LIMIT
    ),
) -> Any:
    """Return reservations overlapping [from, till), cancelled ones too, by start time."""
    with database_errors():
        listing = list_reservations(
            db,
            default_zone=request.app.state.settings.default_time_zone,
            space_id=space,
            from_time=from_time,
            till_time=till_time,
            status=status,
            limit=limit,
        )
    return {
        "items": [reservation_values(item) for item in listing.items],
        "truncated": listing.truncated,
    }
