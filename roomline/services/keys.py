"""Creating, checking and revoking API keys.

A key's secret is 32 hex digits from ``secrets``; only HMAC-SHA256(instance key, secret)
is stored, so a lookup is an indexed equality and the final comparison is constant-time.
The secret is returned once, at creation, and never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection

from roomline.domain.errors import InvalidParameter, MissingApiKey, WorkflowNotAllowed
from roomline.storage import keys as key_store
from roomline.storage.database import Database
from roomline.storage.keys import StoredKey

WORKFLOWS = (
    "REST_CreateReservation",
    "REST_UpdateReservation",
    "REST_CancelReservation",
    "REST_GetReservationsForSpace",
)


def new_secret() -> str:
    """Return a fresh 32-hex-digit secret, in Ultimo's uppercase style."""
    return secrets.token_hex(16).upper()


def hash_secret(conn: Connection, secret: str) -> str:
    # Hex digits compare case-insensitively, as Ultimo's keys do.
    return hmac.new(hash_key(conn), secret.upper().encode(), hashlib.sha256).hexdigest()


def hash_key(conn: Connection) -> bytes:
    return key_store.hash_secret_key(conn)


def store_key(
    conn: Connection,
    *,
    name: str,
    secret: str,
    now: datetime,
    workflows: Iterable[str] | None = None,
    ip_allow: str | None = None,
    daily_quota: int | None = None,
) -> int:
    """Store a key for ``secret`` (inside the caller's transaction); return its id."""
    allowed = None if workflows is None else frozenset(workflows)
    if allowed is not None and (unknown := allowed - set(WORKFLOWS)):
        raise InvalidParameter(
            f"Unknown workflows {', '.join(sorted(unknown))}; choose from {', '.join(WORKFLOWS)}."
        )
    return key_store.add(
        conn,
        name=name,
        secret_hash=hash_secret(conn, secret),
        workflows=allowed,
        ip_allow=ip_allow,
        daily_quota=daily_quota,
        now=now,
    )


def create_key(database: Database, *, name: str, now: datetime, **options: object) -> str:
    """Create a key named ``name`` and return its secret (the only time it is shown)."""
    secret = new_secret()
    with database.write() as conn:
        store_key(conn, name=name, secret=secret, now=now, **options)  # type: ignore[arg-type]
    return secret


def authenticate(conn: Connection, secret: str | None, workflow: str) -> StoredKey:
    """Return the active key for ``secret`` if it may call ``workflow``."""
    if not secret or len(secret) > 256:
        raise MissingApiKey()
    candidate = hash_secret(conn, secret)
    key = key_store.active_by_hash(conn, candidate)
    if key is None:
        raise MissingApiKey()
    if key.workflows is not None and workflow not in key.workflows:
        raise WorkflowNotAllowed(f"This API key may not call {workflow}.")
    return key
