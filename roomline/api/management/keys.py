"""``/api/manage/keys``: create (the secret answered once), list and revoke API keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from roomline.api.management import schemas
from roomline.api.management.common import database, database_errors
from roomline.services import api_keys as service
from roomline.storage.database import Database

router = APIRouter(prefix="/keys")
Db = Annotated[Database, Depends(database)]


@router.get("", response_model=list[schemas.ApiKey], summary="List API keys.")
def list_keys(db: Db) -> Any:
    """Return every key, active and revoked; secrets are never stored, so never shown."""
    with database_errors():
        return [service.key_values(key) for key in service.list_keys(db)]


@router.post("", response_model=schemas.CreatedKey, status_code=201, summary="Create an API key.")
def create_key(db: Db, body: schemas.NewKey) -> Any:
    """Create a key; the answer holds its secret, which is not shown again."""
    with database_errors():
        created = service.create_key(
            db,
            name=body.name,
            now=datetime.now(UTC),
            workflows=body.workflows,
            ip_allow=body.ip_allow,
            daily_quota=body.daily_quota,
        )
    return {**service.key_values(created.key), "secret": created.secret}


@router.delete("/{name:path}", response_model=schemas.ApiKey, summary="Revoke an API key.")
def revoke_key(db: Db, name: str) -> Any:
    """Revoke a key: it stops working at once; it stays listed as revoked."""
    with database_errors():
        return service.key_values(service.revoke_key(db, name, datetime.now(UTC)))
