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
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from roomline.config import Settings
from roomline.domain.errors import (
    DuplicateExternalId,
    RoomlineError,
    ServiceUnavailable,
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
from roomline.storage.direct import Reads, drive
from roomline.storage.hotpath import FoundKey, HotPath, HotPaths, NewRow, SqlHotPath
from roomline.storage.keys import StoredKey
from roomline.storage.reservations import ListedReservation
from roomline.storage.sqlite_hot import SqliteHotPaths
from roomline.storage.transient import retry_transient

T = TypeVar("T")


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


class NeedsCounting(Exception):
    """The key read with a request's first read is one the request limits count: count it
    (which may wait and write) before running the use case again with it admitted."""

    def __init__(self, key: StoredKey) -> None:
        super().__init__()
        self.key = key


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks for a use case.

    Either a key admitted already (``api_key_id``, ``actor``), or one whose hash
    (``secret_hash``) is read with the use case's first read and then admitted by
    ``admit`` (authorization; it raises ``NeedsCounting`` for a key the limits count), so
    that a request costs no read of its own for its key.
    """

    api_key_id: int | None = None
    actor: Actor | None = None
    secret_hash: str | None = None
    admit: Callable[[FoundKey], tuple[int, Actor]] | None = None

    def admitted(self, found: FoundKey) -> tuple[int | None, Actor | None]:
        if self.admit is None:
            return self.api_key_id, self.actor
        return self.admit(found)

    def again(self, api_key_id: int | None, actor: Actor | None) -> Caller:
        """The caller once admitted: a use case reading again does not read its key."""
        return Caller(api_key_id, actor)


# How often an update or cancel reads again when its row changed between its read and its
# write (PostgreSQL's hot path; see ``HotPath.move``) before answering 503.
CHANGE_ATTEMPTS = 8


class ReservationService:
    """The four reservation use cases, each written once as a coroutine over ``HotPath``
    (``*_on``), and run by the methods without the suffix in a write transaction of the
    calling thread (``drive``, for the web view, the CLI, imports and background work)."""

    def __init__(self, database: Database, clock: Clock, policy: Policy) -> None:
        self.database = database
        self.clock = clock
        self.policy = policy
        # Each space's zone as last read, so a Get can read its window with its space.
        self._zones: dict[str, str] = {}

    def zone_of(self, space: Space) -> ZoneInfo:
        return zone_named(space.time_zone or self.policy.default_zone)

    @retry_transient
    def create(
        self, request: NewReservation, api_key_id: int | None, actor: Actor | None = None
    ) -> int:
        """Book a space; return the new (or, for a repeated request, the earlier) UltimoId.

        The write and its audit entry (by ``actor``) commit together.
        """
        with self.database.write() as conn:
            return drive(self.create_on(self._path(conn), request, Caller(api_key_id, actor)))

    @retry_transient
    def update(self, change: TimeChange, actor: Actor | None = None) -> None:
        """Move, shorten or extend a reservation (audited as done by ``actor``)."""
        with self.database.write() as conn:
            drive(self.update_on(self._path(conn), change, Caller(actor=actor)))

    @retry_transient
    def cancel(self, ultimo_id: int, actor: Actor | None = None) -> None:
        """Cancel a reservation; cancelling a cancelled one succeeds again (and changes nothing)."""
        with self.database.write() as conn:
            drive(self.cancel_on(self._path(conn), ultimo_id, Caller(actor=actor)))

    def in_window(self, window: Window) -> WindowResult:
        """Return a space's active reservations overlapping ``[From, Till)``."""
        with self.database.read() as conn:
            return drive(self.listing_on(self._path(conn), window, Caller()))

    def read_here(self, use_case: Callable[[HotPath], Coroutine[Any, Any, T]]) -> T:
        """Run a use case that only reads (``services.availability``) in the calling
        thread; each statement reads on its own where the database allows it
        (``Database.read_statements``)."""
        with self.database.read_statements() as conn:
            return drive(use_case(self._path(conn)))

    def _path(self, conn: Connection) -> SqlHotPath:
        return SqlHotPath(conn, self.clock)

    async def create_on(self, path: HotPath, request: NewReservation, caller: Caller) -> int:
        """Create: read the facts, decide, insert (the database refuses an overlap)."""
        fingerprint = _fingerprint(request) if request.external_id else None
        read = await path.read_create(
            caller.secret_hash,
            caller.api_key_id,
            request.space_id,
            request.applicant_id,
            request.external_id,
        )
        api_key_id, actor = caller.admitted(read.key)
        if read.earlier is not None:
            return _answer_earlier(read.earlier, request, fingerprint)
        space = _bookable(read.space, request.space_id)
        if not read.applicant_known:
            raise UnknownApplicant.named(request.applicant_id)
        zone = self.zone_of(space)
        start = parse_instant("StartTime", request.start_time, zone)
        end = parse_instant("EndTime", request.end_time, zone)
        check_new_times(start, end, read.now, self.policy.start_grace)
        blocked = blocked_interval(start, end, space.preparation_minutes, space.cleanup_minutes)
        created = Reservation(
            ultimo_id=0,
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
        entry = audit.log_entry(
            at=read.now, action="create", before=None, after=created, actor=actor, numbered=False
        )
        row = NewRow(
            space=space,
            applicant_id=request.applicant_id,
            description=request.description,
            start=start,
            end=end,
            blocked=blocked,
            api_key_id=api_key_id,
            external_id=request.external_id,
            request_fingerprint=fingerprint,
            now=read.now,
        )
        try:
            return await path.insert(row, entry)
        except (SpaceNotAvailable, store.ExternalIdTaken):
            if not request.external_id:
                raise
            # On PostgreSQL an identical request may have committed since the read
            # above, and its row is then what refused us: as a conflict (1015) or as the
            # ExternalId taken, whichever the database met first. Answer as it did.
            earlier = await path.earlier_create(api_key_id, request.external_id)
            if earlier is None:
                raise
            return _answer_earlier(earlier, request, fingerprint)

    async def update_on(self, path: HotPath, change: TimeChange, caller: Caller) -> None:
        """Update: read the reservation and its space, decide, move it."""
        for _ in range(CHANGE_ATTEMPTS):
            read = await path.read_change(caller.secret_hash, change.ultimo_id)
            api_key_id, actor = caller.admitted(read.key)
            caller = caller.again(api_key_id, actor)
            current = existing(read.current, change.ultimo_id)
            space = read.space
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
            check_change(current, start, end, read.now, self.policy.start_grace)
            blocked = blocked_interval(start, end, space.preparation_minutes, space.cleanup_minutes)
            moved = dataclasses.replace(
                current,
                start=start,
                end=end,
                preparation_minutes=space.preparation_minutes,
                cleanup_minutes=space.cleanup_minutes,
            )
            entry = audit.log_entry(
                at=read.now, action="update", before=current, after=moved, actor=actor
            )
            if await path.move(read, space, start, end, blocked, entry):
                return
        raise being_changed(change.ultimo_id)

    async def cancel_on(self, path: HotPath, ultimo_id: int, caller: Caller) -> None:
        """Cancel: read the reservation, decide, cancel it (a cancelled one stays as it is)."""
        for _ in range(CHANGE_ATTEMPTS):
            read = await path.read_change(caller.secret_hash, ultimo_id)
            api_key_id, actor = caller.admitted(read.key)
            caller = caller.again(api_key_id, actor)
            current = existing(read.current, ultimo_id)
            if not check_cancel(current, read.now):
                return
            cancelled = dataclasses.replace(current, status=ReservationStatus.CANCELLED)
            entry = audit.log_entry(
                at=read.now, action="cancel", before=current, after=cancelled, actor=actor
            )
            if await path.cancel(read, entry):
                return
        raise being_changed(ultimo_id)

    async def listing_on(self, path: HotPath, window: Window, caller: Caller) -> WindowResult:
        """Get: a space's active reservations overlapping ``[From, Till)``.

        The window's bounds are local times of the space's zone. The zone this process
        saw last for the space gives bounds to read the window with the space itself;
        only if the space has another zone now is the window read again.
        """
        guess = self._zones.get(window.space_id)
        bounds = None
        if guess is not None:
            try:
                bounds = self._bounds(window, zone_named(guess))
            except RoomlineError:
                bounds = None  # raised below, once the key and the space are known
        read = await path.read_get(caller.secret_hash, window.space_id, bounds)
        caller.admitted(read.key)
        if read.space is None:
            raise UnknownSpace.named(window.space_id)
        zone_name = read.space.time_zone or self.policy.default_zone
        if len(self._zones) < MAX_ZONES_KEPT or window.space_id in self._zones:
            self._zones[window.space_id] = zone_name
        zone = zone_named(zone_name)
        if read.window is not None and zone_name == guess:
            return WindowResult(zone, read.window)
        start, end = self._bounds(window, zone)
        return WindowResult(zone, await path.window(read.space.id, start, end))

    def _bounds(self, window: Window, zone: ZoneInfo) -> tuple[datetime, datetime]:
        start = parse_instant("From", window.from_time, zone)
        end = parse_instant("Till", window.till_time, zone)
        check_window(start, end, self.policy.max_window)
        return start, end


def hot_paths_for(database: Database, clock: Clock) -> HotPaths:
    """How the hot use cases run on ``database``: on the event loop, either way."""
    if database.dialect == "postgresql":
        # Imported here: asyncpg comes with the postgres extra, which SQLite does without.
        from roomline.storage.pg_hot import PgHotPaths

        shared = clock if getattr(clock, "shared", False) else None
        return PgHotPaths(database.url, database.pool_size, database.wait_seconds, shared)
    return SqliteHotPaths(database, clock)


# Spaces whose zone a process keeps for Gets (a guess; any number of spaces works).
MAX_ZONES_KEPT = 100_000


def _bookable(space: Space | None, space_id: str) -> Space:
    if space is None:
        raise UnknownSpace.named(space_id)
    if not space.bookable:
        raise SpaceNotBookable(f"Space {space_id!r} is not bookable.")
    return space


def being_changed(ultimo_id: int) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"Reservation {ultimo_id:011d} is being changed by other requests; retry shortly."
    )


async def bookable_space_on(reads: Reads, space_id: str) -> Space:
    """Return the space ``space_id``; refuse an unknown or unbookable one."""
    return _bookable(await masterdata.space_on(reads, space_id), space_id)


async def check_applicant_on(reads: Reads, applicant_id: str) -> None:
    """Refuse an unknown applicant."""
    if await masterdata.person_on(reads, applicant_id) is None:
        raise UnknownApplicant.named(applicant_id)


def existing(current: Reservation | None, ultimo_id: int) -> Reservation:
    if current is None:
        raise UnknownReservation(f"UltimoId {ultimo_id:011d} is not a known reservation.")
    return current


def _answer_earlier(
    earlier: tuple[int, str | None], request: NewReservation, fingerprint: str | None
) -> int:
    """Answer a repeated create as the earlier one was, if it is an identical repeat."""
    ultimo_id, stored_fingerprint = earlier
    if stored_fingerprint != fingerprint:
        raise DuplicateExternalId(
            f"ExternalId {request.external_id!r} was already used for reservation "
            f"{ultimo_id:011d} with different content; repeat the identical "
            "request or use a new ExternalId."
        )
    return ultimo_id


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
