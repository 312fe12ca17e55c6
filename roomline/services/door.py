"""At the door: check in, end early, extend, and release the rooms nobody checked into.

Check-in, end and extend are written once each, as coroutines over ``HotPath`` (as the
Ultimo workflows in ``services/reservations.py``): ``/api/booking`` runs them on the
event loop (``HotPaths.write``: asyncpg on PostgreSQL), the web view and the panel in a
write transaction of their thread (the methods without ``_on``). Each writes the
reservation and its log entry (``check_in``, ``end``, ``update``) together. On the hot
path a write applies only if the reservation is still as read (else it is read again);
in a thread the read locks the row. Either way a check-in and a release of the same
reservation act one after the other. The rules are ``domain/checkin.py``.

Release is background work (SPEC §9) run by every server process. The candidates are
read first without a write lock (the usual answer is "none", and on SQLite a write
transaction every few seconds would hold up requests); the due ones are then claimed in
a write transaction: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two workers or hosts
never claim the same row, and a conditional UPDATE (still active, still not checked in)
on both databases, so a reservation is released once and never after a check-in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, select

from roomline.domain.checkin import (
    check_check_in,
    due_for_release,
    end_early_at,
    extended_end,
)
from roomline.domain.errors import SpaceNotAvailable
from roomline.domain.masterdata import MAX_RULE_MINUTES
from roomline.domain.reservations import (
    Reservation,
    ReservationStatus,
    Space,
    blocked_interval,
)
from roomline.domain.times import format_iso
from roomline.services import audit
from roomline.services.audit import Actor
from roomline.services.reservation_listing import ListedReservation, one_reservation
from roomline.services.reservations import (
    CHANGE_ATTEMPTS,
    ReservationService,
    being_changed,
    existing,
)
from roomline.storage import reservations as store
from roomline.storage.direct import OnConnection, drive
from roomline.storage.hotpath import HotPath, write_here
from roomline.storage.tables import reservations, spaces
from roomline.storage.transient import retry_transient

RELEASE_BATCH = 100
RELEASE_EVERY_SECONDS = 2.0
RELEASE_ACTOR = Actor(workflow="release")


class DoorService:
    """Check-in, early end, extension and release, on one deployment's reservations."""

    def __init__(self, reservations: ReservationService, default_zone: str) -> None:
        self.service = reservations
        self.database = reservations.database
        self.clock = reservations.clock
        self.default_zone = default_zone

    @retry_transient
    def check_in(self, ultimo_id: int, actor: Actor | None = None) -> ListedReservation:
        """``check_in_on`` in a write transaction of this thread."""
        self._write_here(lambda path: self.check_in_on(path, ultimo_id, actor))
        return self._shown(ultimo_id)

    @retry_transient
    def end_early(self, ultimo_id: int, actor: Actor | None = None) -> ListedReservation:
        """``end_early_on`` in a write transaction of this thread."""
        self._write_here(lambda path: self.end_early_on(path, ultimo_id, actor))
        return self._shown(ultimo_id)

    @retry_transient
    def extend(self, ultimo_id: int, minutes: int, actor: Actor | None = None) -> ListedReservation:
        """``extend_on`` in a write transaction of this thread."""
        self._write_here(lambda path: self.extend_on(path, ultimo_id, minutes, actor))
        return self._shown(ultimo_id)

    async def check_in_on(self, path: HotPath, ultimo_id: int, actor: Actor | None) -> None:
        """Record that someone is there; a second check-in changes nothing (the answer
        shows the first's time)."""
        for _ in range(CHANGE_ATTEMPTS):
            read = await path.read_change(None, ultimo_id)
            current, space = existing(read.current, ultimo_id), read.space
            assert space is not None  # a foreign key keeps it
            if not check_check_in(current, space, read.now, self.service.zone_of(space)):
                return
            by = actor.key_name or actor.workflow if actor is not None else None
            checked = dataclasses.replace(current, checked_in_at=read.now, checked_in_by=by)
            entry = audit.log_entry(
                at=read.now, action="check_in", before=current, after=checked, actor=actor
            )
            if await path.check_in(read, by, entry):
                return
        raise being_changed(ultimo_id)

    async def end_early_on(self, path: HotPath, ultimo_id: int, actor: Actor | None) -> None:
        """Cut a running reservation's end to now; its cleanup follows the new end."""
        for _ in range(CHANGE_ATTEMPTS):
            read = await path.read_change(None, ultimo_id)
            current = existing(read.current, ultimo_id)
            end = end_early_at(current, read.now)
            blocked = blocked_interval(
                current.start, end, current.preparation_minutes, current.cleanup_minutes
            )
            ended = dataclasses.replace(current, end=end, ended_at=read.now)
            entry = audit.log_entry(
                at=read.now, action="end", before=current, after=ended, actor=actor
            )
            if await path.end_early(read, end, blocked, entry):
                return
        raise being_changed(ultimo_id)

    async def extend_on(
        self, path: HotPath, ultimo_id: int, minutes: int, actor: Actor | None
    ) -> None:
        """Move a reservation's end ``minutes`` later if the room is free for it (1015
        otherwise, naming the next reservation in ``details``)."""
        for _ in range(CHANGE_ATTEMPTS):
            read = await path.read_change(None, ultimo_id)
            current, space = existing(read.current, ultimo_id), read.space
            assert space is not None  # a foreign key keeps it
            end = extended_end(current, minutes, read.now)
            blocked = blocked_interval(
                current.start, end, space.preparation_minutes, space.cleanup_minutes
            )
            moved = dataclasses.replace(
                current,
                end=end,
                preparation_minutes=space.preparation_minutes,
                cleanup_minutes=space.cleanup_minutes,
            )
            entry = audit.log_entry(
                at=read.now, action="update", before=current, after=moved, actor=actor
            )
            try:
                if await path.move(read, space, current.start, end, blocked, entry):
                    return
            except SpaceNotAvailable as refused:
                conflict = await store.first_conflict_on(path, space.id, blocked, ultimo_id)
                if conflict is None:
                    continue  # it went away meanwhile: try again
                details = await self._next_details(path, conflict, current, space)
                raise SpaceNotAvailable(space.display_name, [details]) from refused
        raise being_changed(ultimo_id)

    def release_due(self) -> int:
        """Release the reservations due now (nobody checked in); return how many."""
        with self.database.read() as conn:
            now = self.clock.now(conn)
            due = [
                r.ultimo_id for r, space in _candidates(conn, now) if due_for_release(r, space, now)
            ]
        if not due:
            return 0
        released = 0
        with self.database.write() as conn:
            now = self.clock.now(conn)
            for current, space in _claim(conn, due[:RELEASE_BATCH]):
                if not due_for_release(current, space, now):
                    continue  # the clock moved back, or the space's rules changed
                if store.release(conn, current.ultimo_id, now):
                    after = dataclasses.replace(
                        current, status=ReservationStatus.CANCELLED, released_at=now
                    )
                    drive(
                        audit.record_on(
                            OnConnection(conn),
                            at=now,
                            action="release",
                            before=current,
                            after=after,
                            actor=RELEASE_ACTOR,
                        )
                    )
                    released += 1
        return released

    def _write_here(self, use_case: Callable[[HotPath], Coroutine[Any, Any, None]]) -> None:
        write_here(self.database, self.clock, use_case)

    async def _next_details(
        self, path: HotPath, conflict_id: int, current: Reservation, space: Space
    ) -> dict[str, object]:
        """Describe the reservation in the way of an extension, and how far it could go."""
        zone = self.service.zone_of(space)
        following = await store.get_on(path, conflict_id)
        assert following is not None  # it was just found, and reservations are kept
        free_until = following.blocked.start - timedelta(minutes=space.cleanup_minutes)
        return {
            "next_ultimo_id": f"{following.ultimo_id:011d}",
            "next_start": format_iso(following.start, zone),
            "next_start_including_preparation": format_iso(following.blocked.start, zone),
            "free_until": format_iso(max(free_until, current.end), zone),
        }

    def _shown(self, ultimo_id: int) -> ListedReservation:
        return one_reservation(self.database, ultimo_id, default_zone=self.default_zone)


def _candidates(conn: Connection, now: datetime) -> list[tuple[Reservation, Space]]:
    """Running reservations of releasing check-in spaces that nobody checked into (the
    partial index ``ix_reservations_awaiting_check_in`` holds exactly these by start)."""
    query = _awaiting().where(
        reservations.c.start_time <= now,
        reservations.c.start_time >= now - timedelta(minutes=MAX_RULE_MINUTES),
        reservations.c.end_time > now,
    )
    return _pairs(conn.execute(query))


def _claim(conn: Connection, ultimo_ids: list[int]) -> list[tuple[Reservation, Space]]:
    """Lock the reservations ``ultimo_ids`` still awaiting check-in that no other worker
    holds (PostgreSQL's SKIP LOCKED; SQLite's write transaction holds them all)."""
    query = (
        _awaiting()
        .where(reservations.c.ultimo_id.in_(ultimo_ids))
        .order_by(reservations.c.ultimo_id)
        .with_for_update(skip_locked=True, of=reservations)
    )
    return _pairs(conn.execute(query))


def _awaiting() -> Any:
    return (
        select(reservations, *_SPACE_RULES)
        .join(spaces, spaces.c.id == reservations.c.space_id)
        .where(
            reservations.c.status == ReservationStatus.PROCESSED.value,
            reservations.c.checked_in_at.is_(None),
            and_(spaces.c.check_in_required, spaces.c.auto_release_minutes > 0),
        )
    )


_SPACE_RULES = (
    spaces.c.check_in_opens_minutes.label("space_opens_minutes"),
    spaces.c.auto_release_minutes.label("space_release_minutes"),
)


def _pairs(rows: Any) -> list[tuple[Reservation, Space]]:
    pairs = []
    for row in rows:
        reservation = store.reservation_from_row(row)
        # Only the rules matter to the release decision; the space's other fields are not
        # read here.
        space = Space(
            id=reservation.space_id,
            description="",
            time_zone=None,
            preparation_minutes=0,
            cleanup_minutes=0,
            capacity=None,
            bookable=True,
            check_in_required=True,
            check_in_opens_minutes=row.space_opens_minutes,
            auto_release_minutes=row.space_release_minutes,
        )
        pairs.append((reservation, space))
    return pairs
