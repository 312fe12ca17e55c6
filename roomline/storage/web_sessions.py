"""Signed-in web sessions, and the instance key that signs their cookies.

Repositories never commit: the caller's transaction does.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from roomline.storage.tables import instance_secrets, web_sessions

# Made by migration 0005, once per database, so every worker and host signs alike.
WEB_SESSION_KEY = "web_session_key"


def session_key(conn: Connection) -> bytes:
    """Return the instance's random cookie-signing key."""
    value = conn.execute(
        select(instance_secrets.c.value).where(instance_secrets.c.name == WEB_SESSION_KEY)
    ).scalar_one()
    return bytes.fromhex(value)


def start(conn: Connection, id_hash: str, token_hmac: str, now: datetime) -> None:
    conn.execute(
        insert(web_sessions).values(
            id_hash=id_hash, admin_token_hmac=token_hmac, signed_in_at=now, seen_at=now
        )
    )


def is_active(conn: Connection, id_hash: str, token_hmac: str, seen_after: datetime) -> bool:
    """Whether the session exists, was opened with this token, and was seen recently."""
    found = conn.execute(
        select(web_sessions.c.id_hash).where(
            web_sessions.c.id_hash == id_hash,
            web_sessions.c.admin_token_hmac == token_hmac,
            web_sessions.c.seen_at > seen_after,
        )
    ).first()
    return found is not None


def seen(conn: Connection, id_hash: str, now: datetime) -> None:
    conn.execute(update(web_sessions).where(web_sessions.c.id_hash == id_hash).values(seen_at=now))


def end(conn: Connection, id_hash: str) -> None:
    conn.execute(delete(web_sessions).where(web_sessions.c.id_hash == id_hash))


def forget_unseen_since(conn: Connection, moment: datetime) -> None:
    """Delete sessions idle since before ``moment`` (their cookies have expired too)."""
    conn.execute(delete(web_sessions).where(web_sessions.c.seen_at <= moment))
