"""The four reservation use cases, each one database transaction.

Writes run in ``Database.write()``: on SQLite that transaction holds the write lock from
its first statement, so "check for a conflict, then insert" cannot interleave with
another writer; on PostgreSQL the exclusion constraint refuses what a concurrent writer
would have slipped past the check. A write PostgreSQL aborts for a deadlock or a
serialization failure is run again (``storage.transient``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from roomline.config import Settings
from roomline.domain.errors import (
    DuplicateExternalId,
    SpaceNotAvailable,
    SpaceNotBookable,
    UnknownApplicant,
    UnknownReservation,
    UnknownSpace,
)
from roomline.domain.reservations import (
    Reservation,
    ReservationStatus,
    Space,
    blocked_interval,
    check_cancel,
    check_change,
    check_new_times,
    check_window,
)
from roomline.domain.times import parse_instant, zone_named
from roomline.services import audit
from roomline.services.audit import Actor
from roomline.services.clock import Clock
from roomline.storage import masterdata
from roomline.storage import reservations as store
from roomline.storage.database import Database
from roomline.storage.hotreads import HotReader, HotReads
from roomline.storage.reservations import ListedReservation
from roomline.storage.transient import retry_transient


@dataclass(frozen=True, slots=True)
class Policy:
    """The configurable numbers of the rules."""

    start_grace: timedelta = timedelta(minutes=5)
    max_window: timedelta = timedelta(days=366)
    default_zone: str = "UTC"
    max_series_occurrences: int = 500


def policy_for(settings: Settings) -> Policy:
    """Return the rules' numbers as ``settings`` configure them."""
    return Policy(
        start_grace=timedelta(minutes=settings.start_grace_minutes),
        max_window=timedelta(days=settings.max_window_days),
        default_zone=settings.default_time_zone,
        max_series_occurrences=settings.max_series_occurrences,
    )


@dataclass(frozen=True, slots=True)
class NewReservation:
    """A create request; times are text as clients send them, read in the space's zone."""

    space_id: str
    applicant_id: str
    start_time: str
    end_time: str
    description: str = ""
    external_id: str = ""


@dataclass(frozen=True, slots=True)
class TimeChange:
    """An update request; a time left as None keeps its current value."""

    ultimo_id: int
    start_time: str | None
    end_time: str | None


@dataclass(frozen=True, slots=True)
class Window:
    space_id: str
    from_time: str
    till_time: str


@dataclass(frozen=True, slots=True)
class WindowResult:
    zone: ZoneInfo
    items: list[ListedReservation]


class ReservationService:
    def __init__(self, database: Database, clock: Clock, policy: Policy) -> None:
        self.database = database
        self.clock = clock
        self.policy = policy
        self.hot_reads = HotReader(database)

    def zone_of(self, space: Space) -> ZoneInfo:
        return zone_named(space.time_zone or self.policy.default_zone)

    @retry_transient
    def create(
        self, request: NewReservation, api_key_id: int | None, actor: Actor | None = None
    ) -> int:
        """Book a space; return the new (or, for a repeated request, the earlier) UltimoId.

        The write and its audit entry (by ``actor``) commit together.
        """
        fingerprint = _fingerprint(request) if request.external_id else None
        with self.database.write() as conn:
            if request.external_id:
                earlier = _earlier_create(conn, api_key_id, request, fingerprint)
                if earlier is not None:
                    return earlier
            try:
                return self._insert(conn, request, api_key_id, fingerprint, actor)
            except (SpaceNotAvailable, store.ExternalIdTaken):
                if not request.external_id:
                    raise
                # On PostgreSQL an identical request may have committed since the check
                # above, and its row is then what refused us: as a conflict (1015) or as
                # the ExternalId taken, whichever the database met first. Under READ
                # COMMITTED this statement sees it; answer as that request did.
                earlier = _earlier_create(conn, api_key_id, request, fingerprint)
                if earlier is None:
                    raise
                return earlier

    def _insert(
        self,
        conn: Connection,
        request: NewReservation,
        api_key_id: int | None,
        fingerprint: str | None,
        actor: Actor | None,
    ) -> int:
        space = bookable_space(conn, request.space_id)
        check_applicant(conn, request.applicant_id)
        zone = self.zone_of(space)
        start = parse_instant("StartTime", request.start_time, zone)
        end = parse_instant("EndTime", request.end_time, zone)
        now = self.clock.now(conn)
        check_new_times(start, end, now, self.policy.start_grace)
        blocked = blocked_interval(start, end, space.preparation_minutes, space.cleanup_minutes)
        if store.first_conflict(conn, space.id, blocked) is not None:
            raise SpaceNotAvailable(space.display_name)
        ultimo_id = store.insert_reservation(
            conn,
            space=space,
            applicant_id=request.applicant_id,
            description=request.description,
            start=start,
            end=end,
            blocked=blocked,
            api_key_id=api_key_id,
            external_id=request.external_id,
            request_fingerprint=fingerprint,
            now=now,
        )
        created = Reservation(
            ultimo_id=ultimo_id,
            space_id=space.id,
            applicant_id=request.applicant_id,
            description=request.description,
            start=start,
            end=end,
            preparation_minutes=space.preparation_minutes,
            cleanup_minutes=space.cleanup_minutes,
            status=ReservationStatus.PROCESSED,
            external_id=request.external_id,
        )
        audit.record(conn, at=now, action="create", before=None, after=created, actor=actor)
        return ultimo_id

    @retry_transient
    def update(self, change: TimeChange, actor: Actor | None = None) -> None:
        """Move, shorten or extend a reservation (audited as done by ``actor``)."""
        with self.database.write() as conn:
            current = _existing(conn, change.ultimo_id)
            space = masterdata.get_space(conn, current.space_id)
            assert space is not None  # a foreign key keeps it
            zone = self.zone_of(space)
            start = (
                current.start
                if change.start_time is None
                else parse_instant("StartTime", change.start_time, zone)
            )
            end = (
                current.end
                if change.end_time is None
                else parse_instant("EndTime", change.end_time, zone)
            )
            now = self.clock.now(conn)
            check_change(current, start, end, now, self.policy.start_grace)
            blocked = blocked_interval(start, end, space.preparation_minutes, space.cleanup_minutes)
            if store.first_conflict(conn, space.id, blocked, ignore_id=current.ultimo_id):
                raise SpaceNotAvailable(space.display_name)
            store.move(conn, current, space, start, end, blocked, now)
            moved = dataclasses.replace(
                current,
                start=start,
                end=end,
                preparation_minutes=space.preparation_minutes,
                cleanup_minutes=space.cleanup_minutes,
            )
            audit.record(conn, at=now, action="update", before=current, after=moved, actor=actor)

    @retry_transient
    def cancel(self, ultimo_id: int, actor: Actor | None = None) -> None:
        """Cancel a reservation; cancelling a cancelled one succeeds again (and changes nothing)."""
        with self.database.write() as conn:
            current = _existing(conn, ultimo_id)
            now = self.clock.now(conn)
            if check_cancel(current, now):
                store.cancel(conn, ultimo_id, now)
                cancelled = dataclasses.replace(current, status=ReservationStatus.CANCELLED)
                audit.record(
                    conn, at=now, action="cancel", before=current, after=cancelled, actor=actor
                )

    def in_window(self, window: Window, reads: HotReads | None = None) -> WindowResult:
        """Return a space's active reservations overlapping ``[From, Till)``.

        Runs in ``reads`` when given (the request's read transaction), else in its own.
        """
        if reads is None:
            with self.hot_reads.read() as own:
                return self.in_window(window, own)
        space = reads.space(window.space_id)
        if space is None:
            raise UnknownSpace.named(window.space_id)
        zone = self.zone_of(space)
        start = parse_instant("From", window.from_time, zone)
        end = parse_instant("Till", window.till_time, zone)
        check_window(start, end, self.policy.max_window)
        return WindowResult(zone, reads.window(space.id, start, end))


def bookable_space(conn: Connection, space_id: str) -> Space:
    """Return the space ``space_id``; refuse an unknown or unbookable one."""
    space = masterdata.get_space(conn, space_id)
    if space is None:
        raise UnknownSpace.named(space_id)
    if not space.bookable:
        raise SpaceNotBookable(f"Space {space_id!r} is not bookable.")
    return space


def check_applicant(conn: Connection, applicant_id: str) -> None:
    if masterdata.get_person(conn, applicant_id) is None:
        raise UnknownApplicant.named(applicant_id)


def _existing(conn: Connection, ultimo_id: int) -> Reservation:
    """Return the reservation a write changes, locked (``store.get_for_update``)."""
    current = store.get_for_update(conn, ultimo_id)
    if current is None:
        raise UnknownReservation(f"UltimoId {ultimo_id:011d} is not a known reservation.")
    return current


def _earlier_create(
    conn: Connection, api_key_id: int | None, request: NewReservation, fingerprint: str | None
) -> int | None:
    found = store.by_external_id(conn, api_key_id, request.external_id)
    if found is None:
        return None
    reservation, stored_fingerprint = found
    if stored_fingerprint != fingerprint:
        raise DuplicateExternalId(
            f"ExternalId {request.external_id!r} was already used for reservation "
            f"{reservation.ultimo_id:011d} with different content; repeat the identical "
            "request or use a new ExternalId."
        )
    return reservation.ultimo_id


def _fingerprint(request: NewReservation) -> str:
    """Identify a create request by its exact content, so only identical repeats match."""
    content = [
        request.space_id,
        request.applicant_id,
        request.start_time,
        request.end_time,
        request.description,
    ]
    return hashlib.sha256(json.dumps(content).encode()).hexdigest()
