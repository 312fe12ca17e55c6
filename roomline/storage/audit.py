"""The audit trail's rows: written inside a reservation write's transaction, read by queries.

The trail is also the log of changes (SPEC §8), and its ``id`` the cursor that change
feeds, streams and webhooks follow. A reader that has seen cursor N must never later
find a committed entry below N. SQLite has one writer at a time, so ids follow commit
order by themselves. PostgreSQL hands out ids from a sequence when rows are inserted, and
transactions commit in any order: an entry recording itself takes a transaction-level
advisory lock first, so entries are numbered and committed one transaction after the
other. A reservation write takes it before its rows (``reservations.take_space_turn_on``,
``pg_hot``), so every writer takes its locks in one order; the hot path's writes commit
in groups (``pg_hot.WriteGroups``), so the lock's turns are one per group, not per write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, bindparam, delete, func, insert, select, text

from roomline.storage.direct import (
    DirectStatement,
    OnConnection,
    Reads,
    Writes,
    drive,
    in_json_list,
    json_list,
)
from roomline.storage.tables import UTCDateTime, audit_log, people, spaces


@dataclass(frozen=True, slots=True)
class LogEntry:
    """A log entry to record with a write (``services.audit.log_entry`` shapes it).

    A new reservation's number is known only once the database gives it, so its
    ``after_state`` begins with ``NEW_ID_PREFIX``, where the number goes.
    """

    at: datetime
    action: str
    workflow: str | None
    key_name: str | None
    client_address: str | None
    request_id: str | None
    before_state: str | None
    after_state: str
    space_id: str

    def after_state_of(self, ultimo_id: int) -> str:
        if not self.after_state.startswith(NEW_ID_PREFIX):
            return self.after_state
        return f'{{"ultimo_id": {ultimo_id}{self.after_state[len(NEW_ID_PREFIX) :]}'

    def after_state_around_id(self) -> tuple[str, str]:
        """The JSON before and after a new reservation's number (for SQL to join)."""
        return '{"ultimo_id": ', self.after_state[len(NEW_ID_PREFIX) :]


# How the JSON of a reservation not yet numbered begins (its first key is ultimo_id).
NEW_ID_PREFIX = '{"ultimo_id": ?'


def add_entry(conn: Connection, entry: LogEntry, ultimo_id: int) -> None:
    """``add_entry_on`` in the caller's transaction."""
    drive(add_entry_on(OnConnection(conn), entry, ultimo_id))


async def add_entry_on(writes: Writes, entry: LogEntry, ultimo_id: int) -> None:
    """Record ``entry`` of reservation ``ultimo_id`` inside the caller's transaction."""
    if writes.dialect == "postgresql":
        await writes.write(_NUMBER_IN_COMMIT_ORDER, {})
    # One prebuilt statement with the values as parameters: building a new one per write
    # costs more than the insert itself.
    await writes.write(
        _INSERT,
        {
            "at": entry.at,
            "action": entry.action,
            "workflow": entry.workflow,
            "ultimo_id": ultimo_id,
            "key_name": entry.key_name,
            "client_address": entry.client_address,
            "request_id": entry.request_id,
            "before_state": entry.before_state,
            "after_state": entry.after_state_of(ultimo_id),
            "space_id": entry.space_id,
        },
    )


# Any constant both sides agree on; "roomline log" in ASCII.
LOG_LOCK = 0x726F6F6D6C6F67
_NUMBER_IN_COMMIT_ORDER = DirectStatement(text(f"SELECT pg_advisory_xact_lock({LOG_LOCK})"))


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
        "space_id",
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


# The change feed's reads, compiled once: run in the caller's transaction or on the event
# loop (``Reads``: ``services/changes.py``).
def _changes_query(of_space: bool) -> DirectStatement:
    query = (
        select(audit_log, spaces.c.time_zone.label("time_zone"))
        .select_from(audit_log.outerjoin(spaces, spaces.c.id == audit_log.c.space_id))
        .where(audit_log.c.id > bindparam("after"), audit_log.c.id <= bindparam("through"))
        .order_by(audit_log.c.id)
        .limit(bindparam("limit", type_=Integer))
    )
    if of_space:
        query = query.where(audit_log.c.space_id == bindparam("space_id"))
    return DirectStatement(query)


_CHANGES, _CHANGES_OF_SPACE = _changes_query(False), _changes_query(True)
_NAMES = DirectStatement(select(people.c.id, people.c.name).where(in_json_list(people.c.id, "ids")))
_LATEST = DirectStatement(select(func.coalesce(func.max(audit_log.c.id), 0).label("latest")))
_FIRST_AFTER = DirectStatement(
    select(audit_log.c.id, audit_log.c.at)
    .where(audit_log.c.id > bindparam("cursor"))
    .order_by(audit_log.c.id)
    .limit(1)
)
_FIRST_SINCE = DirectStatement(
    select(func.min(audit_log.c.id).label("first")).where(
        audit_log.c.at >= bindparam("since", type_=UTCDateTime())
    )
)


async def changes_after(
    reads: Reads, after: int, through: int, space_id: str | None, limit: int
) -> list[Any]:
    """Return up to ``limit`` entries with ``after < id <= through`` (of one space if
    given), oldest first, each with its space's zone (``time_zone``)."""
    values: dict[str, Any] = {"after": after, "through": through, "limit": limit}
    if space_id is None:
        return await reads.rows(_CHANGES, values)
    return await reads.rows(_CHANGES_OF_SPACE, {**values, "space_id": space_id})


async def names_of(reads: Reads, person_ids: set[str]) -> dict[str, str]:
    """The names of the people ``person_ids`` (those that still exist), in one statement:
    a page of the log can name a hundred people, and a statement each cost the webhook
    rounds a tenth of their time on PostgreSQL."""
    if not person_ids:
        return {}
    rows = await reads.rows(_NAMES, {"ids": json_list(person_ids)})
    return {row.id: row.name for row in rows}


async def latest_cursor(reads: Reads) -> int:
    """The newest entry's id (0 while the log is empty)."""
    rows = await reads.rows(_LATEST, {})
    return int(rows[0].latest)


async def first_after(reads: Reads, cursor: int) -> Any | None:
    """The first entry after ``cursor``, whatever its space (its id and time)."""
    rows = await reads.rows(_FIRST_AFTER, {"cursor": cursor})
    return rows[0] if rows else None


async def first_since(reads: Reads, since: datetime) -> int | None:
    """The id of the first entry at or after ``since``."""
    rows = await reads.rows(_FIRST_SINCE, {"since": since})
    return None if rows[0].first is None else int(rows[0].first)


def latest_cursor_in(conn: Connection) -> int:
    """``latest_cursor`` in the caller's transaction."""
    return drive(latest_cursor(OnConnection(conn)))


def delete_before(
    conn: Connection, before: datetime, limit: int, through: int | None = None
) -> tuple[int, int] | None:
    """Delete up to ``limit`` of the oldest entries older than ``before`` (and, given
    ``through``, none after that id); return how many and the newest id deleted (None when
    none is that old).

    In batches, so pruning a large backlog never holds the write lock for long."""
    old = audit_log.c.at < before
    if through is not None:
        old = old & (audit_log.c.id <= through)
    doomed = [
        row.id
        for row in conn.execute(
            select(audit_log.c.id).where(old).order_by(audit_log.c.id).limit(limit)
        )
    ]
    if not doomed:
        return None
    conn.execute(delete(audit_log).where(audit_log.c.id.in_(doomed)))
    return len(doomed), doomed[-1]
