"""The audit trail's rows: written inside a reservation write's transaction, read by queries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from roomline.storage.direct import DirectStatement
from roomline.storage.tables import audit_log


def add(
    conn: Connection,
    *,
    at: datetime,
    action: str,
    workflow: str | None,
    ultimo_id: int,
    key_name: str | None,
    client_address: str | None,
    request_id: str | None,
    before_state: str | None,
    after_state: str,
) -> None:
    # One prebuilt statement with the values as parameters: building a new one per write
    # costs more than the insert itself.
    _INSERT.write(
        conn,
        {
            "at": at,
            "action": action,
            "workflow": workflow,
            "ultimo_id": ultimo_id,
            "key_name": key_name,
            "client_address": client_address,
            "request_id": request_id,
            "before_state": before_state,
            "after_state": after_state,
        },
    )


_INSERT = DirectStatement(
    insert(audit_log),
    column_keys=[
        "at",
        "action",
        "workflow",
        "ultimo_id",
        "key_name",
        "client_address",
        "request_id",
        "before_state",
        "after_state",
    ],
)


def find(
    conn: Connection,
    *,
    since: datetime | None,
    key_name: str | None,
    ultimo_id: int | None,
    after_id: int | None,
    limit: int,
) -> list[Any]:
    """Return matching rows, oldest first (by id, which follows commit order closely)."""
    query = select(audit_log).order_by(audit_log.c.id).limit(limit)
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    if key_name is not None:
        query = query.where(audit_log.c.key_name == key_name)
    if ultimo_id is not None:
        query = query.where(audit_log.c.ultimo_id == ultimo_id)
    if after_id is not None:
        query = query.where(audit_log.c.id > after_id)
    return list(conn.execute(query))
