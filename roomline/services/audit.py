"""The audit trail: who changed which reservation, when, from where, and how.

Every reservation write (create, update, cancel, and at the door check_in, end,
release) records one entry in the same database
transaction as the write itself, so the trail never shows a change that was rolled back
and never misses one that was committed. An entry holds the time (the server's clock, as
the reservation's own timestamps), the API key's name (never its secret), the client
address, the workflow, the UltimoId, and JSON snapshots of the reservation before and
after. A repeated create answered from an earlier one and a repeated cancel change
nothing, so they record nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from roomline.domain.errors import InvalidParameter
from roomline.domain.reservations import Reservation
from roomline.domain.times import parse_instant, zone_named
from roomline.storage import audit as store
from roomline.storage.audit import NEW_ID_PREFIX, LogEntry
from roomline.storage.database import Database
from roomline.storage.direct import Writes

MAX_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks for a write, as the audit trail records it."""

    key_name: str | None = None
    client_address: str | None = None
    workflow: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    action: str
    workflow: str | None
    ultimo_id: int
    key_name: str | None
    client_address: str | None
    request_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AuditQuery:
    since: datetime | None = None
    key_name: str | None = None
    ultimo_id: int | None = None
    after_id: int | None = None
    limit: int = 100


def snapshot(reservation: Reservation) -> dict[str, Any]:
    """Return the stored facts of ``reservation`` as JSON-ready values (instants in UTC).

    What happened at the door (check-in, release, early end) is added once it has: the
    entries of reservations that never met a door keep their shape.
    """
    facts = {
        "ultimo_id": reservation.ultimo_id,
        "space_id": reservation.space_id,
        "applicant_id": reservation.applicant_id,
        "description": reservation.description,
        "start": _utc(reservation.start),
        "end": _utc(reservation.end),
        "preparation_minutes": reservation.preparation_minutes,
        "cleanup_minutes": reservation.cleanup_minutes,
        "status": reservation.status.value,
        "external_id": reservation.external_id,
        "series_id": reservation.series_id,
    }
    if reservation.checked_in_at is not None:
        facts["checked_in_at"] = _utc(reservation.checked_in_at)
        facts["checked_in_by"] = reservation.checked_in_by
    if reservation.released_at is not None:
        facts["released_at"] = _utc(reservation.released_at)
    if reservation.ended_at is not None:
        facts["ended_at"] = _utc(reservation.ended_at)
    return facts


async def record_on(
    writes: Writes,
    *,
    at: datetime,
    action: str,
    before: Reservation | None,
    after: Reservation,
    actor: Actor | None,
) -> None:
    """Record one write inside the transaction ``writes`` runs in (``drive`` it over
    ``direct.OnConnection`` in a thread's)."""
    entry = log_entry(at=at, action=action, before=before, after=after, actor=actor)
    await store.add_entry_on(writes, entry, after.ultimo_id)


def log_entry(
    *,
    at: datetime,
    action: str,
    before: Reservation | None,
    after: Reservation,
    actor: Actor | None,
    numbered: bool = True,
) -> LogEntry:
    """Shape the entry of one write; ``numbered=False`` for a reservation the write
    creates, whose UltimoId the database gives (``LogEntry.after_state_of``)."""
    actor = actor or Actor()
    after_state = json.dumps(snapshot(after))
    if not numbered:
        after_state = NEW_ID_PREFIX + after_state[len(f'{{"ultimo_id": {after.ultimo_id}') :]
    return LogEntry(
        at=at,
        action=action,
        workflow=actor.workflow,
        key_name=actor.key_name,
        client_address=actor.client_address,
        request_id=actor.request_id,
        before_state=None if before is None else json.dumps(snapshot(before)),
        after_state=after_state,
        space_id=after.space_id,
    )


def entries(database: Database, query: AuditQuery) -> list[AuditEntry]:
    """Return the entries matching ``query``, oldest first."""
    limit = max(1, min(query.limit, MAX_LIMIT))
    with database.read() as conn:
        rows = store.find(
            conn,
            since=query.since,
            key_name=query.key_name,
            ultimo_id=query.ultimo_id,
            after_id=query.after_id,
            limit=limit,
        )
    return [
        AuditEntry(
            id=row.id,
            at=row.at,
            action=row.action,
            workflow=row.workflow,
            ultimo_id=row.ultimo_id,
            key_name=row.key_name,
            client_address=row.client_address,
            request_id=row.request_id,
            before=None if row.before_state is None else json.loads(row.before_state),
            after=json.loads(row.after_state),
        )
        for row in rows
    ]


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    """Return ``entry`` as the JSON the CLI and the management API show."""
    return {
        "id": entry.id,
        "at": _utc(entry.at),
        "action": entry.action,
        "workflow": entry.workflow,
        "ultimo_id": f"{entry.ultimo_id:011d}",
        "key_name": entry.key_name,
        "client_address": entry.client_address,
        "request_id": entry.request_id,
        "before": entry.before,
        "after": entry.after,
    }


def parse_since(text: str | None) -> datetime | None:
    """Read a ``since`` filter: ISO 8601; without an offset it means UTC."""
    if text is None:
        return None
    return parse_instant("since", text, zone_named("UTC"))


def parse_ultimo_id(text: str | None) -> int | None:
    """Read an UltimoId filter: up to 11 digits, leading zeros optional."""
    if text is None:
        return None
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 11:
        raise InvalidParameter(f"UltimoId {text[:40]!r} is not a number of up to 11 digits.")
    return int(digits)


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")
