"""``GET /api/manage/audit``: the audit trail of reservation writes, for the admin token only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from roomline.api.admin import require_admin
from roomline.api.parameters import refuse_unknown_query_parameters
from roomline.services import audit
from roomline.storage.tables import LARGEST_ID

router = APIRouter(
    prefix="/api/manage",
    tags=["Audit"],
    dependencies=[Depends(require_admin), Depends(refuse_unknown_query_parameters)],
)


class AuditEntryOut(BaseModel):
    id: int = Field(..., description="Position in the trail; pass as after_id to page on.")
    at: str = Field(..., description="When the write happened (UTC, server clock).")
    action: str = Field(..., description="create, update or cancel.")
    workflow: str | None = Field(None, description="The Ultimo workflow that asked for it.")
    ultimo_id: str = Field(..., description="The reservation, as 11 digits.")
    key_name: str | None = Field(None, description="The API key's name (never its secret).")
    client_address: str | None = None
    request_id: str | None = Field(None, description="The X-Request-Id of the request.")
    before: dict[str, Any] | None = Field(None, description="The reservation before the write.")
    after: dict[str, Any] = Field(..., description="The reservation after the write.")


@router.get("/audit", response_model=list[AuditEntryOut], summary="List the audit trail.")
async def list_audit(
    request: Request,
    since: str | None = Query(None, description="Only entries at or after this ISO 8601 time."),
    key: str | None = Query(None, description="Only writes made with the key of this name."),
    ultimo_id: str | None = Query(None, description="Only writes to this reservation."),
    after_id: int | None = Query(
        None, ge=0, le=LARGEST_ID, description="Only entries after this id."
    ),
    limit: int = Query(100, ge=1, le=audit.MAX_LIMIT, description="At most this many."),
) -> list[dict[str, Any]]:
    """Return reservation writes, oldest first, with the reservation before and after."""
    query = audit.AuditQuery(
        since=audit.parse_since(since),
        key_name=key,
        ultimo_id=audit.parse_ultimo_id(ultimo_id),
        after_id=after_id,
        limit=limit,
    )
    found = await run_in_threadpool(audit.entries, request.app.state.database, query)
    return [audit.entry_json(entry) for entry in found]
