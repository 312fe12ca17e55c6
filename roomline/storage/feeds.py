"""Calendar feeds (only their tokens' keyed hashes), and what one feed shows.

A feed answers in two queries: the feed by its token's hash (with its space or person),
then its reservations in the window, each with its space's zone and the number of log
entries it has (the VEVENT's SEQUENCE).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from roomline.storage.tables import audit_log, calendar_feeds, people, reservations, spaces


@dataclass(frozen=True, slots=True)
class StoredFeed:
    id: int
    space_id: str | None
    applicant_id: str | None
    name: str
    created_at: datetime
    revoked_at: datetime | None


def _stored_feed(row: Any) -> StoredFeed:
    return StoredFeed(
        id=row.id,
        space_id=row.space_id,
        applicant_id=row.applicant_id,
        name=row.name,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def add(
    conn: Connection,
    *,
    token_hash: str,
    space_id: str | None,
    applicant_id: str | None,
    name: str,
    now: datetime,
) -> StoredFeed:
    statement = (
        insert(calendar_feeds)
        .values(
            token_hash=token_hash,
            space_id=space_id,
            applicant_id=applicant_id,
            name=name,
            created_at=now,
        )
        .returning(calendar_feeds.c.id)
    )
    feed_id = int(conn.execute(statement).scalar_one())
    found = by_id(conn, feed_id)
    assert found is not None
    return found


def by_id(conn: Connection, feed_id: int) -> StoredFeed | None:
    row = conn.execute(select(calendar_feeds).where(calendar_feeds.c.id == feed_id)).first()
    return None if row is None else _stored_feed(row)


def list_feeds(conn: Connection, space_id: str | None = None) -> list[StoredFeed]:
    query = select(calendar_feeds).order_by(calendar_feeds.c.id)
    if space_id is not None:
        query = query.where(calendar_feeds.c.space_id == space_id)
    return [_stored_feed(row) for row in conn.execute(query)]


def revoke(conn: Connection, feed_id: int, now: datetime) -> None:
    conn.execute(
        update(calendar_feeds)
        .where(calendar_feeds.c.id == feed_id, calendar_feeds.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def active_by_hash(conn: Connection, token_hash: str) -> Any | None:
    """The active feed stored under ``token_hash``, with its space's description and zone
    or its person's name (None when unknown or revoked)."""
    query = (
        select(
            calendar_feeds,
            spaces.c.description.label("space_description"),
            spaces.c.time_zone.label("space_time_zone"),
            people.c.name.label("applicant_name"),
        )
        .select_from(
            calendar_feeds.outerjoin(spaces, spaces.c.id == calendar_feeds.c.space_id).outerjoin(
                people, people.c.id == calendar_feeds.c.applicant_id
            )
        )
        .where(calendar_feeds.c.token_hash == token_hash, calendar_feeds.c.revoked_at.is_(None))
    )
    return conn.execute(query).first()


def reservations_between(
    conn: Connection,
    *,
    space_id: str | None,
    applicant_id: str | None,
    start: datetime,
    end: datetime,
) -> list[Any]:
    """The reservations of a space or an applicant overlapping ``[start, end)``, cancelled
    ones too, by start time: each row with its space's description, place and zone, the
    applicant's name, and ``changes``: how many log entries the reservation has."""
    changes = (
        select(func.count())
        .select_from(audit_log)
        .where(audit_log.c.ultimo_id == reservations.c.ultimo_id)
        .scalar_subquery()
    )
    query = (
        select(
            reservations,
            spaces.c.description.label("space_description"),
            spaces.c.building,
            spaces.c.floor,
            spaces.c.time_zone.label("space_time_zone"),
            people.c.name.label("applicant_name"),
            changes.label("changes"),
        )
        .join(spaces, spaces.c.id == reservations.c.space_id)
        .join(people, people.c.id == reservations.c.applicant_id)
        .where(reservations.c.start_time < end, reservations.c.end_time > start)
        .order_by(reservations.c.start_time, reservations.c.ultimo_id)
    )
    if space_id is not None:
        query = query.where(reservations.c.space_id == space_id)
    if applicant_id is not None:
        query = query.where(reservations.c.applicant_id == applicant_id)
    return list(conn.execute(query))
