"""Calendar feeds: a secret URL that puts a space's or a person's reservations in a calendar.

``create_feed`` returns the token once; only HMAC-SHA256(instance key, token) is stored,
so a lookup is an indexed equality and a leaked database holds no usable URL. A feed
shows the reservations from 30 days before to a year after now (the server's clock, so
a demo's pinned clock too), cancelled ones as STATUS:CANCELLED, each with the number of
changes the log of changes holds for it as its SEQUENCE. An unknown and a revoked token
answer alike.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from roomline.domain.errors import InvalidParameter, RecordNotFound, UnknownApplicant, UnknownSpace
from roomline.domain.masterdata import identifier
from roomline.services import ical
from roomline.services.clock import Clock
from roomline.storage import feeds as feed_store
from roomline.storage import masterdata
from roomline.storage.database import Database
from roomline.storage.feeds import StoredFeed
from roomline.storage.keys import hash_secret_key
from roomline.storage.tables import LARGEST_SMALL_ID

WINDOW_BEFORE = timedelta(days=30)
WINDOW_AFTER = timedelta(days=365)
MAX_NAME = 255
# token_urlsafe(32) gives 43 characters; anything much longer is not ours.
MAX_TOKEN = 100
UNKNOWN_FEED = "There is no calendar feed at this address; it may have been revoked."


@dataclass(frozen=True, slots=True)
class NewFeed:
    feed: StoredFeed
    token: str


@dataclass(frozen=True, slots=True)
class FeedDocument:
    body: bytes
    etag: str


def new_token() -> str:
    """A fresh token: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def _token_hash(key: bytes, token: str) -> str:
    # A prefix of its own, so a feed token never hashes like an API key of the same text.
    return hmac.new(key, b"calendar-feed:" + token.encode(), hashlib.sha256).hexdigest()


def feed_path(token: str) -> str:
    return f"/feeds/{token}.ics"


def feed_urls(base_url: str | None, token: str) -> tuple[str, str | None]:
    """The feed's URL (absolute if ``base_url`` is known, else its path) and the
    ``webcal://`` form calendar apps subscribe to on a click (None without a base URL)."""
    path = feed_path(token)
    if not base_url:
        return path, None
    url = base_url.rstrip("/") + path
    return url, "webcal://" + url.split("://", 1)[1]


def create_feed(
    database: Database,
    *,
    now: datetime,
    space_id: str | None = None,
    applicant_id: str | None = None,
    name: str = "",
) -> NewFeed:
    """Create the feed of one space or one applicant; the token is never shown again."""
    if (space_id is None) == (applicant_id is None):
        raise InvalidParameter("Give either a space or an applicant for a calendar feed.")
    name = name.strip()
    if len(name) > MAX_NAME or any(ord(char) < 32 for char in name):
        raise InvalidParameter(
            f"A feed's name is up to {MAX_NAME} characters without control characters."
        )
    if space_id is not None:
        space_id = identifier(space_id, "space")
    if applicant_id is not None:
        applicant_id = identifier(applicant_id, "applicant")
    token = new_token()
    with database.write() as conn:
        if space_id is not None and masterdata.get_space(conn, space_id) is None:
            raise UnknownSpace.named(space_id)
        if applicant_id is not None and masterdata.get_person(conn, applicant_id) is None:
            raise UnknownApplicant.named(applicant_id)
        feed = feed_store.add(
            conn,
            token_hash=_token_hash(hash_secret_key(conn), token),
            space_id=space_id,
            applicant_id=applicant_id,
            name=name,
            now=now,
        )
    return NewFeed(feed, token)


def list_feeds(database: Database, space_id: str | None = None) -> list[StoredFeed]:
    """Return every feed (of one space if given), active and revoked, oldest first."""
    with database.read() as conn:
        return feed_store.list_feeds(conn, space_id)


def revoke_feed(database: Database, feed_id: int, now: datetime) -> StoredFeed:
    """Revoke feed ``feed_id`` (again: no change): its URL answers 404 from now on."""
    # Past the largest id a database holds, no feed can match (and SQLite cannot bind it).
    if not 1 <= feed_id <= LARGEST_SMALL_ID:
        raise RecordNotFound(f"There is no calendar feed {feed_id}.")
    with database.write() as conn:
        if feed_store.by_id(conn, feed_id) is None:
            raise RecordNotFound(f"There is no calendar feed {feed_id}.")
        feed_store.revoke(conn, feed_id, now)
        revoked = feed_store.by_id(conn, feed_id)
    assert revoked is not None
    return revoked


def feed_values(feed: StoredFeed) -> dict[str, Any]:
    """A feed as the CLI and the management API show it (never its token)."""
    return {
        "id": feed.id,
        "scope": "space" if feed.space_id is not None else "applicant",
        "space_id": feed.space_id,
        "applicant_id": feed.applicant_id,
        "name": feed.name,
        "status": "active" if feed.revoked_at is None else "revoked",
        "created_at": _utc(feed.created_at),
        "revoked_at": None if feed.revoked_at is None else _utc(feed.revoked_at),
    }


def created_values(created: NewFeed, base_url: str | None) -> dict[str, Any]:
    """A new feed with its token, path and URLs: the only time they are shown."""
    url, webcal = feed_urls(base_url, created.token)
    return {
        **feed_values(created.feed),
        "token": created.token,
        "path": feed_path(created.token),
        "url": url,
        "webcal_url": webcal,
    }


class FeedReader:
    """Writes the calendar behind a token, for one deployment's database, clock and zone."""

    def __init__(self, database: Database, clock: Clock, default_zone: str) -> None:
        self.database = database
        self.clock = clock
        self.default_zone = default_zone

    def read(self, token: str) -> FeedDocument:
        """Return the calendar of the active feed ``token``; RecordNotFound otherwise."""
        if not token or len(token) > MAX_TOKEN:
            raise RecordNotFound(UNKNOWN_FEED)
        with self.database.read() as conn:
            candidate = _token_hash(hash_secret_key(conn), token)
            feed = feed_store.active_by_hash(conn, candidate)
            if feed is None or not hmac.compare_digest(feed.token_hash, candidate):
                raise RecordNotFound(UNKNOWN_FEED)
            now = self.clock.now(conn)
            start, end = now - WINDOW_BEFORE, now + WINDOW_AFTER
            rows = feed_store.reservations_between(
                conn,
                space_id=feed.space_id,
                applicant_id=feed.applicant_id,
                start=start,
                end=end,
            )
        events = [self._event(row) for row in rows]
        zones = {event.zone for event in events}
        if feed.space_id is not None:
            zones.add(feed.space_time_zone or self.default_zone)
        body = ical.calendar_text(_title(feed), sorted(zones), events, start.date(), end.date())
        return FeedDocument(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')

    def _event(self, row: Any) -> ical.FeedEvent:
        applicant = (
            f"{row.applicant_name} ({row.applicant_id})" if row.applicant_name else row.applicant_id
        )
        cancelled = row.status == "Cancelled"
        summary = row.description or f"Reserved by {row.applicant_name or row.applicant_id}"
        lines = [f"Applicant: {applicant}", f"UltimoId: {row.ultimo_id:011d}"]
        if row.preparation_minutes or row.cleanup_minutes:
            lines.append(
                f"The room is blocked {row.preparation_minutes} min before for preparation "
                f"and {row.cleanup_minutes} min after for cleanup."
            )
        if row.series_id is not None:
            lines.append(f"Part of series {row.series_id}.")
        return ical.FeedEvent(
            uid=f"{row.ultimo_id:011d}@roomline",
            # Each change after the create adds one; a reservation with no log entries
            # (stored before the log existed, or its entries pruned) starts at 0.
            sequence=max(row.changes - 1, 0),
            stamp=row.updated_at,
            created=row.created_at,
            start=row.start_time,
            end=row.end_time,
            zone=row.space_time_zone or self.default_zone,
            summary=f"Cancelled: {summary}" if cancelled else summary,
            location=_place(row.space_id, row.space_description, row.building, row.floor),
            description="\n".join(lines),
            cancelled=cancelled,
        )


def _title(feed: Any) -> str:
    if feed.space_id is not None:
        return f"{feed.space_id} {feed.space_description}".strip() + " (roomline)"
    return f"{feed.applicant_name or feed.applicant_id} (roomline)"


def _place(space_id: str, description: str, building: str | None, floor: str | None) -> str:
    where = ", ".join(part for part in (building, f"floor {floor}" if floor else None) if part)
    place = f"{space_id} {description}".strip()
    return f"{place} ({where})" if where else place


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
