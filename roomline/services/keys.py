"""Creating, checking and revoking API keys.

A key's secret is 32 hex digits from ``secrets``; only HMAC-SHA256(instance key, secret)
is stored, so a lookup is an indexed equality and the final comparison is constant-time.
The secret is returned once, at creation, and never logged.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection

from roomline.domain.addresses import AddressRange, allows, format_ip_allow, parse_ip_allow
from roomline.domain.errors import (
    AddressNotAllowed,
    InvalidParameter,
    MissingApiKey,
    WorkflowNotAllowed,
)
from roomline.storage import keys as key_store
from roomline.storage.database import Database
from roomline.storage.hotpath import FoundKey
from roomline.storage.keys import StoredKey

WORKFLOWS = (
    "REST_CreateReservation",
    "REST_UpdateReservation",
    "REST_CancelReservation",
    "REST_GetReservationsForSpace",
)
# roomline's own operations under /api/booking (SPEC §7), granted to keys the same way
# as the Ultimo workflows. A key stored without a list may call every grant, including
# ones added later.
OPERATIONS = ("series", "find", "changes", "checkin")
GRANTS = WORKFLOWS + OPERATIONS


def new_secret() -> str:
    """Return a fresh 32-hex-digit secret, in Ultimo's uppercase style."""
    return secrets.token_hex(16).upper()


def hash_secret(conn: Connection, secret: str) -> str:
    return _hash(hash_key(conn), secret)


def _hash(key: bytes, secret: str) -> str:
    # Hex digits compare case-insensitively, as Ultimo's keys do.
    return hmac.new(key, secret.upper().encode(), hashlib.sha256).hexdigest()


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
    if allowed is not None and (unknown := allowed - set(GRANTS)):
        raise InvalidParameter(
            f"Unknown workflows {', '.join(sorted(unknown))}; choose from {', '.join(GRANTS)}."
        )
    if daily_quota is not None and daily_quota < 0:
        raise InvalidParameter("A daily quota counts requests: give 0 or more.")
    return key_store.add(
        conn,
        name=name,
        secret_hash=hash_secret(conn, secret),
        workflows=allowed,
        ip_allow=canonical_ip_allow(ip_allow),
        daily_quota=daily_quota,
        now=now,
    )


def create_key(database: Database, *, name: str, now: datetime, **options: object) -> str:
    """Create a key named ``name`` and return its secret (the only time it is shown)."""
    secret = new_secret()
    with database.write() as conn:
        store_key(conn, name=name, secret=secret, now=now, **options)  # type: ignore[arg-type]
    return secret


def canonical_ip_allow(text: str | None) -> str | None:
    """Check an IP allow-list and return it in canonical form; empty means no allow-list."""
    if text is None or not text.strip():
        return None
    return format_ip_allow(parse_ip_allow(text))


@functools.lru_cache(maxsize=1024)
def _allow_list(text: str) -> tuple[AddressRange, ...] | None:
    # Parsing depends on the text alone, so caching it never delays a change to a key.
    try:
        return parse_ip_allow(text)
    except InvalidParameter:
        return None  # a damaged stored allow-list admits nobody


def address_allowed(ip_allow: str | None, client_address: str | None) -> bool:
    """Return whether a key with allow-list ``ip_allow`` may be used from ``client_address``.

    As Ultimo documents, a list naming only IPv4 ranges refuses every IPv6 address, and
    the other way round; an address that could not be determined is refused.
    """
    if ip_allow is None or not ip_allow.strip():
        return True
    ranges = _allow_list(ip_allow)
    return ranges is not None and client_address is not None and allows(ranges, client_address)


def authenticate(
    conn: Connection, secret: str | None, workflow: str, client_address: str | None = None
) -> StoredKey:
    """Return the active key for ``secret`` if it may call ``workflow`` from ``client_address``
    (read in the caller's transaction)."""
    candidate = secret_hash(hash_key(conn), secret)
    key = admitted_key(key_store.active_with_hash(conn, candidate), candidate)
    authorize(key, workflow, client_address)
    return key


def secret_hash(hash_secret_key: bytes, secret: str | None) -> str:
    """Return the hash a key with ``secret`` is stored under; refuse a missing secret."""
    if not secret or len(secret) > 256:
        raise MissingApiKey()
    return _request_hash(hash_secret_key, secret)


# A server sees the same few keys in request after request; the HMAC of each was a
# twentieth of a Get. Only the hash is kept per secret: what the key may do is read from
# the database with every request, so a revocation still holds at once.
_request_hash = functools.lru_cache(maxsize=1024)(_hash)


def admitted_key(found: FoundKey, candidate: str) -> StoredKey:
    """Return the active key read for hash ``candidate``; absent, unknown and revoked keys
    look alike.

    Every request reads its key from the database, so a revocation holds at once in every
    worker process and host.
    """
    if found is None or not hmac.compare_digest(found[1], candidate):
        raise MissingApiKey()
    return found[0]


def authorize(key: StoredKey, workflow: str, client_address: str | None) -> None:
    """Refuse ``key`` outside its IP allow-list (403) or for a workflow or operation it
    may not call."""
    if not address_allowed(key.ip_allow, client_address):
        shown = client_address or "an address that could not be determined"
        raise AddressNotAllowed(f"This API key may not be used from {shown}.")
    if key.workflows is not None and workflow not in key.workflows:
        raise WorkflowNotAllowed(f"This API key may not call {workflow}.")
