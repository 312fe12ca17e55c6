"""Signing in to the web view: sessions kept in the database.

A session is a random id; the cookie carries it (signed with the instance's random key
from the database, never with anything derived from public text) and the database keeps
its SHA-256. A page is signed in only while that row exists, so signing out, which
deletes it, ends the session for every copy of the cookie, in every worker and on every
host. Each row also holds an HMAC of the admin token it was opened with: changing the
token signs everybody out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from roomline.storage import web_sessions as store
from roomline.storage.database import Database


class WebSessionStore:
    """Start, check, renew and end web sessions (blocking: run in a thread)."""

    def __init__(self, database: Database, admin_token: SecretStr | None, max_age: int) -> None:
        self.database = database
        self.admin_token = admin_token
        self.max_age = timedelta(seconds=max_age)
        self._key: bytes | None = None

    def cookie_key(self) -> str:
        """Return the key that signs session cookies (read once per process)."""
        return self._instance_key().hex()

    def start(self) -> str:
        """Open a session for someone who gave the admin token; return its id."""
        session_id = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self.database.write() as conn:
            store.forget_unseen_since(conn, now - self.max_age)
            store.start(conn, _hashed(session_id), self._token_hmac(), now)
        return session_id

    def active(self, session_id: str) -> bool:
        """Whether ``session_id`` is signed in (not ended, not idle too long)."""
        if self.admin_token is None:
            return False
        with self.database.read() as conn:
            return store.is_active(
                conn, _hashed(session_id), self._token_hmac(), datetime.now(UTC) - self.max_age
            )

    def seen(self, session_id: str) -> None:
        """Keep an active session alive."""
        with self.database.write() as conn:
            store.seen(conn, _hashed(session_id), datetime.now(UTC))

    def end(self, session_id: str) -> None:
        """Sign the session out, for every copy of its cookie."""
        with self.database.write() as conn:
            store.end(conn, _hashed(session_id))

    def _instance_key(self) -> bytes:
        if self._key is None:
            with self.database.read() as conn:
                self._key = store.session_key(conn)
        return self._key

    def _token_hmac(self) -> str:
        assert self.admin_token is not None, "nobody signs in without an admin token"
        token = self.admin_token.get_secret_value().encode()
        return hmac.new(self._instance_key(), token, hashlib.sha256).hexdigest()


def _hashed(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()
