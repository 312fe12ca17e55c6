"""API keys (only their keyed hashes) and the instance secret they are hashed with."""

from __future__ import annotations

import json
import sqlite3
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from roomline.storage.direct import DirectStatement
from roomline.storage.tables import api_keys, instance_secrets

KEY_HASH_SECRET = "api_key_hmac"


@dataclass(frozen=True, slots=True)
class StoredKey:
    id: int
    name: str
    workflows: frozenset[str] | None  # None: every workflow
    ip_allow: str | None
    daily_quota: int | None
    created_at: datetime
    revoked_at: datetime | None


def _stored_key(row: Any) -> StoredKey:
    return StoredKey(
        id=row.id,
        name=row.name,
        workflows=None if row.workflows is None else frozenset(json.loads(row.workflows)),
        ip_allow=row.ip_allow,
        daily_quota=row.daily_quota,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def hash_secret_key(conn: Connection) -> bytes:
    """Return this instance's HMAC key for API-key hashes.

    Migration 0006 creates it, once, before any server answers; requests only read it.
    It never changes, so each process keeps it after reading it, and authenticating
    costs no query for it.
    """
    cached = known_hash_secret_key(conn.engine)
    if cached is not None:
        return cached
    value = conn.execute(
        select(instance_secrets.c.value).where(instance_secrets.c.name == KEY_HASH_SECRET)
    ).scalar()
    if value is None:
        raise RuntimeError(
            "the database has no API-key hashing secret; run `roomline db upgrade` on it"
        )
    key = _hash_keys[conn.engine] = bytes.fromhex(value)
    return key


def known_hash_secret_key(engine: Engine) -> bytes | None:
    """Return the instance's HMAC key if this process has read it already."""
    return _hash_keys.get(engine)


# Per engine (that is, per database), the instance's HMAC key once read.
_hash_keys: weakref.WeakKeyDictionary[Engine, bytes] = weakref.WeakKeyDictionary()


def active_with_hash(
    conn: Connection | sqlite3.Connection, secret_hash: str
) -> tuple[StoredKey, str] | None:
    """Return the active key stored under ``secret_hash``, and the hash as stored."""
    row = _ACTIVE_BY_HASH.first(conn, {"secret_hash": secret_hash})
    return None if row is None else (_stored_key(row), row.secret_hash)


# Every request looks its key up: the statement is built once (revocation still takes
# effect at once, since the row is read on every request).
_ACTIVE_BY_HASH = DirectStatement(
    select(api_keys).where(
        api_keys.c.secret_hash == bindparam("secret_hash"), api_keys.c.revoked_at.is_(None)
    )
)


def by_name(conn: Connection, name: str) -> StoredKey | None:
    row = conn.execute(select(api_keys).where(api_keys.c.name == name)).first()
    return None if row is None else _stored_key(row)


def list_keys(conn: Connection) -> list[StoredKey]:
    return [_stored_key(row) for row in conn.execute(select(api_keys).order_by(api_keys.c.name))]


def add(
    conn: Connection,
    *,
    name: str,
    secret_hash: str,
    workflows: frozenset[str] | None,
    ip_allow: str | None,
    daily_quota: int | None,
    now: datetime,
) -> int:
    statement = (
        insert(api_keys)
        .values(
            name=name,
            secret_hash=secret_hash,
            workflows=None if workflows is None else json.dumps(sorted(workflows)),
            ip_allow=ip_allow,
            daily_quota=daily_quota,
            created_at=now,
        )
        .returning(api_keys.c.id)
    )
    return int(conn.execute(statement).scalar_one())


def revoke(conn: Connection, name: str, now: datetime) -> bool:
    result = conn.execute(
        update(api_keys)
        .where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount > 0
