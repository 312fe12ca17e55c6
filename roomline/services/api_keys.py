"""Managing API keys: create (secret shown once), list (never a secret), revoke.

Creating and authenticating keys is ``services/keys.py``; this module adds what a
facility team does with them. Options are checked here and stored; enforcing the IP
allow-list and the daily quota happens where requests are authenticated.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from roomline.domain.addresses import format_ip_allow, parse_ip_allow
from roomline.domain.errors import AlreadyExists, InvalidParameter, RecordNotFound
from roomline.domain.masterdata import identifier
from roomline.services.keys import GRANTS, new_secret, store_key
from roomline.storage import keys as key_store
from roomline.storage.database import Database
from roomline.storage.keys import StoredKey

# Short names a person types, for the Ultimo workflow names a key may call.
WORKFLOW_ALIASES = {
    "create": "REST_CreateReservation",
    "update": "REST_UpdateReservation",
    "cancel": "REST_CancelReservation",
    "get": "REST_GetReservationsForSpace",
}
MAX_DAILY_QUOTA = 1_000_000_000


@dataclass(frozen=True, slots=True)
class NewKey:
    key: StoredKey
    secret: str


def workflows_named(names: Iterable[str] | None) -> frozenset[str] | None:
    """Read workflow and operation names (full or short, any case, comma-separated too);
    None means all."""
    if names is None:
        return None
    canonical = {name.lower(): name for name in GRANTS}
    canonical.update(WORKFLOW_ALIASES)
    chosen: set[str] = set()
    for given in names:
        for part in given.split(","):
            name = part.strip()
            if not name:
                continue
            if name.lower() not in canonical:
                raise InvalidParameter(
                    f"Unknown workflow {name!r}; choose from {', '.join(GRANTS)} "
                    f"(or {', '.join(WORKFLOW_ALIASES)})."
                )
            chosen.add(canonical[name.lower()])
    if not chosen:
        raise InvalidParameter("Name at least one workflow, or leave workflows out for all.")
    return frozenset(chosen)


def create_key(
    database: Database,
    *,
    name: str,
    now: datetime,
    workflows: Iterable[str] | None = None,
    ip_allow: str | None = None,
    daily_quota: int | None = None,
) -> NewKey:
    """Create a key; the returned secret is never stored nor shown again."""
    name = identifier(name, "name")
    allowed = workflows_named(workflows)
    allow_text = None
    if ip_allow is not None and ip_allow.strip():
        allow_text = format_ip_allow(parse_ip_allow(ip_allow))
    if daily_quota is not None and not 0 <= daily_quota <= MAX_DAILY_QUOTA:
        raise InvalidParameter(
            f"daily_quota must be between 0 and {MAX_DAILY_QUOTA}, not {daily_quota}."
        )
    secret = new_secret()
    with database.write() as conn:
        if key_store.by_name(conn, name) is not None:
            raise AlreadyExists(
                f"An API key named {name!r} already exists (revoked keys keep their name)."
            )
        store_key(
            conn,
            name=name,
            secret=secret,
            now=now,
            workflows=allowed,
            ip_allow=allow_text,
            daily_quota=daily_quota,
        )
        stored = key_store.by_name(conn, name)
    assert stored is not None
    return NewKey(stored, secret)


def list_keys(database: Database) -> list[StoredKey]:
    """Return every key, active and revoked, ordered by name; secrets are not stored."""
    with database.read() as conn:
        return key_store.list_keys(conn)


def revoke_key(database: Database, name: str, now: datetime) -> StoredKey:
    """Revoke the key ``name`` (again: no change); return it."""
    with database.write() as conn:
        if key_store.by_name(conn, name) is None:
            raise RecordNotFound(f"There is no API key named {name!r}.")
        key_store.revoke(conn, name, now)
        stored = key_store.by_name(conn, name)
    assert stored is not None
    return stored


def key_values(key: StoredKey) -> dict[str, Any]:
    """Return what may be shown about a key: everything but its secret (never stored)."""
    return {
        "name": key.name,
        "status": "revoked" if key.revoked_at is not None else "active",
        "workflows": None
        if key.workflows is None
        else [name for name in GRANTS if name in key.workflows],
        "ip_allow": key.ip_allow,
        "daily_quota": key.daily_quota,
        "created_at": key.created_at.isoformat(timespec="seconds"),
        "revoked_at": None
        if key.revoked_at is None
        else key.revoked_at.isoformat(timespec="seconds"),
    }
