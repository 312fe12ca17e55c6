"""Recurring reservations (series): create, read, change and cancel, each one transaction.

Every occurrence is an ordinary reservation with its own UltimoId, written through the
same storage insert as a single reservation: the database's no-overlap guard holds for
it, the audit trail records it, and the Ultimo workflows list, change and cancel it. An
occurrence changed or cancelled on its own becomes an **exception**
(``series_exception``), which later series edits leave as it is.

Conflicts follow the request's policy: ``fail`` stores nothing and lists every
conflicting occurrence (``SpaceNotAvailable`` with ``details``); ``skip`` books the free
ones and reports the others. An occurrence that cannot exist (its wall-clock time falls
in a DST gap, or a change would move it into the past) is skipped and reported under
either policy. On PostgreSQL a concurrent writer can take a slot between the check and
the insert; the exclusion constraint then refuses the insert in its savepoint and the
occurrence counts as a conflict like any other.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from roomline.domain.errors import (
    DuplicateExternalId,
    InvalidDateTime,
    InvalidParameter,
    RecordNotFound,
    SpaceNotAvailable,
    StartTimeInPast,
)
from roomline.domain.recurrence import ConflictPolicy, Occurrence, expand
from roomline.domain.reservations import (
    Reservation,
    ReservationStatus,
    Space,
    blocked_interval,
    check_cancel,
    check_new_times,
    check_span,
)
from roomline.domain.times import format_iso, parse_instant, wall_clock_instant
from roomline.services import audit
from roomline.services.audit import Actor
from roomline.services.reservations import (
    ReservationService,
    bookable_space_on,
    check_applicant_on,
)
from roomline.storage import masterdata
from roomline.storage import reservations as store
from roomline.storage import series as series_store
from roomline.storage.direct import OnConnection, Reads, drive
from roomline.storage.hotpath import ClockedReads, SqlHotPath, Transaction, write_here
from roomline.storage.reservations import reservation_from_row
from roomline.storage.transient import retry_transient

T = TypeVar("T")
CONFLICT = "1015"
_TIME_OF_DAY = re.compile(r"(\d{2}):(\d{2})(?::(\d{2}))?", re.ASCII)
MAX_DURATION_MINUTES = 7 * 24 * 60


@dataclass(frozen=True, slots=True)
class NewSeries:
    """A create request; times are text as clients send them, read in the space's zone."""

    space_id: str
    applicant_id: str
    start: str
    end: str
    rrule: str
    description: str = ""
    exdates: tuple[str, ...] = ()
    external_id: str = ""
    on_conflict: ConflictPolicy = ConflictPolicy.FAIL


@dataclass(frozen=True, slots=True)
class SeriesChange:
    """Change every occurrence from the one starting at ``from_time`` on (default: every
    one not yet started); None leaves that part as it is."""

    series_id: int
    from_time: str | None = None
    time_of_day: str | None = None
    duration_minutes: int | None = None
    description: str | None = None
    on_conflict: ConflictPolicy = ConflictPolicy.FAIL


@dataclass(frozen=True, slots=True)
class Skipped:
    """An occurrence left out, and why. Times are instants, or, for one that does not
    exist (a DST gap), naive wall-clock times in the space's zone."""

    start: datetime
    end: datetime
    code: str
    message: str

    def values(self, zone: ZoneInfo) -> dict[str, Any]:
        return {
            "start": _written(self.start, zone),
            "end": _written(self.end, zone),
            "code": self.code,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class Booked:
    """An occurrence booked or changed (``ultimo_id`` None in a preview)."""

    ultimo_id: int | None
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class SeriesOutcome:
    """What a create or change did: the occurrences it booked or moved, and those it left."""

    series_id: int | None
    zone: ZoneInfo
    occurrences: list[Booked]
    skipped: list[dict[str, Any]]  # ``Skipped.values``: kept as answered


@dataclass(frozen=True, slots=True)
class SeriesOccurrence:
    reservation: Reservation
    exception: bool


@dataclass(frozen=True, slots=True)
class SeriesView:
    series_id: int
    space_id: str
    applicant_id: str
    applicant_name: str
    description: str
    rrule: str
    exdates: list[str]
    first_start: datetime
    first_end: datetime
    external_id: str
    zone: ZoneInfo
    occurrences: list[SeriesOccurrence]
    skipped: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _Plan:
    space: Space
    zone: ZoneInfo
    now: datetime
    free: list[Occurrence]
    conflicts: list[Skipped]
    gaps: list[Skipped]


class SeriesService:
    """The series use cases, on the reservation service's database, clock and rules."""

    def __init__(self, reservations: ReservationService) -> None:
        self.reservations = reservations
        self.database = reservations.database
        self.clock = reservations.clock
        self.policy = reservations.policy

    def preview(self, request: NewSeries) -> SeriesOutcome:
        """``preview_on`` in the calling thread (the CLI)."""
        with self.database.read() as conn:
            return drive(self.preview_on(SqlHotPath(conn, self.clock), request))

    async def preview_on(self, path: ClockedReads, request: NewSeries) -> SeriesOutcome:
        """Show what ``create`` would book and skip now, storing nothing; conflicts are
        listed whatever the policy."""
        plan = await self._plan_on(path, request)
        booked = [Booked(None, o.start, o.end) for o in plan.free]
        return SeriesOutcome(
            None, plan.zone, booked, _listed(plan.conflicts + plan.gaps, plan.zone)
        )

    def create(
        self, request: NewSeries, api_key_id: int | None, actor: Actor | None = None
    ) -> SeriesOutcome:
        """``create_on`` in a thread's transaction (the CLI, the web view)."""
        return self._in_transaction(lambda tx: self.create_on(tx, request, api_key_id, actor))

    async def create_on(
        self,
        tx: Transaction,
        request: NewSeries,
        api_key_id: int | None,
        actor: Actor | None = None,
    ) -> SeriesOutcome:
        """Book a series; a repeated request with the same ``external_id`` answers as the
        first did and books nothing."""
        fingerprint = _fingerprint(request) if request.external_id else None
        if request.external_id:
            earlier = await self._earlier_on(tx, api_key_id, request, fingerprint)
            if earlier is not None:
                return earlier
        return await self._book_on(tx, request, api_key_id, fingerprint, actor)

    def now(self) -> datetime:
        """The server's current time (the demo clock where there is one)."""
        with self.database.read() as conn:
            return self.clock.now(conn)

    def series_of(self, ultimo_id: int) -> int | None:
        """Return the series reservation ``ultimo_id`` is an occurrence of, if any."""
        with self.database.read() as conn:
            return series_store.series_of(conn, ultimo_id)

    def get(self, series_id: int) -> SeriesView:
        """``view_on`` in the calling thread (the CLI)."""
        with self.database.read() as conn:
            return drive(self.view_on(OnConnection(conn), series_id))

    def update(self, change: SeriesChange, actor: Actor | None = None) -> SeriesOutcome:
        """``update_on`` in a thread's transaction (the CLI)."""
        return self._in_transaction(lambda tx: self.update_on(tx, change, actor))

    async def update_on(
        self, tx: Transaction, change: SeriesChange, actor: Actor | None = None
    ) -> SeriesOutcome:
        """Change the time of day, duration or description of the occurrences from
        ``change.from_time`` on, leaving exceptions, cancelled and started ones alone."""
        time_of_day = _time_of_day(change.time_of_day)
        duration = _duration(change.duration_minutes)
        if time_of_day is None and duration is None and change.description is None:
            raise InvalidParameter(
                "Nothing to change: give time_of_day, duration_minutes or description."
            )
        row = await _series_row_on(tx, change.series_id)
        space = await masterdata.space_on(tx, row.space_id)
        assert space is not None  # a foreign key keeps it
        zone = self.reservations.zone_of(space)
        now = await tx.now()
        rows = await series_store.occurrences_on(tx, row.id)
        since = _from(change.from_time, rows, zone, row.id) or now
        changed: list[Booked] = []
        conflicts: list[Skipped] = []
        left: list[Skipped] = []
        moves: list[tuple[Reservation, Reservation]] = []
        for occurrence in rows:
            current = reservation_from_row(occurrence)
            if occurrence.series_exception or not current.active:
                continue
            if current.start < since or current.start <= now:
                continue
            moved = _moved(current, zone, time_of_day, duration)
            if isinstance(moved, Skipped):
                left.append(moved)
                continue
            start, end = moved
            try:
                check_new_times(start, end, now, self.policy.start_grace)
            except StartTimeInPast as exc:
                left.append(Skipped(start, end, exc.code, exc.message))
                continue
            description = current.description if change.description is None else change.description
            blocked = blocked_interval(start, end, space.preparation_minutes, space.cleanup_minutes)
            try:
                if await store.first_conflict_on(
                    tx, space.id, blocked, ignore_id=current.ultimo_id
                ):
                    raise SpaceNotAvailable(space.display_name)
                await store.move_on(
                    tx, current, space, start, end, blocked, now, description=description
                )
            except SpaceNotAvailable as exc:
                conflicts.append(Skipped(start, end, exc.code, exc.message))
                continue
            after = dataclasses.replace(
                current,
                start=start,
                end=end,
                description=description,
                preparation_minutes=space.preparation_minutes,
                cleanup_minutes=space.cleanup_minutes,
            )
            moves.append((current, after))
            changed.append(Booked(current.ultimo_id, start, end))
        if conflicts and change.on_conflict is ConflictPolicy.FAIL:
            # The moves made so far roll back with the transaction.
            raise SpaceNotAvailable(space.display_name, _listed(conflicts, zone))
        # After every move, as a series create records after every insert.
        for current, after in moves:
            await audit.record_on(
                tx, at=now, action="update", before=current, after=after, actor=actor
            )
        if change.description is not None:
            await series_store.change_on(tx, row.id, now, "description", change.description)
        return SeriesOutcome(row.id, zone, changed, _listed(conflicts + left, zone))

    def cancel(
        self, series_id: int, from_time: str | None = None, actor: Actor | None = None
    ) -> tuple[SeriesView, list[int]]:
        """``cancel_on`` in a thread's transaction (the CLI, the web view)."""
        return self._in_transaction(lambda tx: self.cancel_on(tx, series_id, from_time, actor))

    async def cancel_on(
        self,
        tx: Transaction,
        series_id: int,
        from_time: str | None = None,
        actor: Actor | None = None,
    ) -> tuple[SeriesView, list[int]]:
        """Cancel the occurrences from the one starting at ``from_time`` on (default: every
        one not yet ended), leaving exceptions alone; return the series and those cancelled."""
        row = await _series_row_on(tx, series_id)
        space = await masterdata.space_on(tx, row.space_id)
        assert space is not None
        zone = self.reservations.zone_of(space)
        now = await tx.now()
        rows = await series_store.occurrences_on(tx, row.id)
        since = _from(from_time, rows, zone, row.id)
        cancelled: list[int] = []
        for occurrence in rows:
            current = reservation_from_row(occurrence)
            if occurrence.series_exception or current.has_ended(now):
                continue
            if since is not None and current.start < since:
                continue
            if check_cancel(current, now):
                await store.cancel_on(tx, current.ultimo_id, now, by_series=True)
                after = dataclasses.replace(current, status=ReservationStatus.CANCELLED)
                await audit.record_on(
                    tx, at=now, action="cancel", before=current, after=after, actor=actor
                )
                cancelled.append(current.ultimo_id)
        return await self.view_on(tx, series_id), cancelled

    @retry_transient
    def _in_transaction(self, use_case: Callable[[Transaction], Awaitable[T]]) -> T:
        return write_here(self.database, self.clock, use_case)

    async def _plan_on(self, path: ClockedReads, request: NewSeries) -> _Plan:
        space = await bookable_space_on(path, request.space_id)
        await check_applicant_on(path, request.applicant_id)
        zone = self.reservations.zone_of(space)
        start = parse_instant("start", request.start, zone)
        end = parse_instant("end", request.end, zone)
        check_span(start, end, "start", "end")
        now = await path.now()
        check_new_times(start, end, now, self.policy.start_grace)
        exdates = [parse_instant("exdates", text, zone) for text in request.exdates]
        expansion = expand(
            request.rrule,
            start,
            end,
            zone,
            max_occurrences=self.policy.max_series_occurrences,
            exdates=exdates,
        )
        gaps = [
            Skipped(gap.start, gap.end, InvalidDateTime.code, gap.message) for gap in expansion.gaps
        ]
        free: list[Occurrence] = []
        conflicts: list[Skipped] = []
        taken = SpaceNotAvailable(space.display_name).message
        occurrences = expansion.occurrences
        in_the_way = await store.first_conflicts_on(
            path, space.id, [_blocked(space, occurrence) for occurrence in occurrences]
        )
        for occurrence, conflict in zip(occurrences, in_the_way, strict=True):
            blocked = _blocked(space, occurrence)
            # Occurrences longer than the rule's step would overlap each other, too.
            overlaps_previous = bool(free) and _blocked(space, free[-1]).overlaps(blocked)
            if overlaps_previous or conflict is not None:
                conflicts.append(Skipped(occurrence.start, occurrence.end, CONFLICT, taken))
            else:
                free.append(occurrence)
        return _Plan(space, zone, now, free, conflicts, gaps)

    async def _book_on(
        self,
        tx: Transaction,
        request: NewSeries,
        api_key_id: int | None,
        fingerprint: str | None,
        actor: Actor | None,
    ) -> SeriesOutcome:
        plan = await self._plan_on(tx, request)
        space, zone, now = plan.space, plan.zone, plan.now
        if plan.conflicts and (request.on_conflict is ConflictPolicy.FAIL or not plan.free):
            raise SpaceNotAvailable(space.display_name, _listed(plan.conflicts, zone))
        first = plan.free[0]
        try:
            async with tx.savepoint():
                series_id = await series_store.add_on(
                    tx,
                    {
                        "space_id": space.id,
                        "applicant_id": request.applicant_id,
                        "description": request.description,
                        "rrule": request.rrule,
                        "exdates": json.dumps(
                            [
                                format_iso(parse_instant("exdates", t, zone), zone)
                                for t in request.exdates
                            ]
                        ),
                        "first_start": first.start,
                        "first_end": first.end,
                        "api_key_id": api_key_id,
                        "external_id": request.external_id,
                        "request_fingerprint": fingerprint,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
        except series_store.SeriesExternalIdTaken:
            # A concurrent identical request committed first (PostgreSQL): answer as it
            # did. The insert waited for that commit, so the next read sees its series.
            earlier = await self._earlier_on(tx, api_key_id, request, fingerprint)
            if earlier is None:  # pragma: no cover - the row that refused us is gone
                raise
            return earlier
        booked: list[Booked] = []
        created_all: list[Reservation] = []
        conflicts = list(plan.conflicts)
        for occurrence in plan.free:
            blocked = _blocked(space, occurrence)
            try:
                ultimo_id = await store.insert_reservation_on(
                    tx,
                    space=space,
                    applicant_id=request.applicant_id,
                    description=request.description,
                    start=occurrence.start,
                    end=occurrence.end,
                    blocked=blocked,
                    api_key_id=api_key_id,
                    external_id="",
                    request_fingerprint=None,
                    now=now,
                    series_id=series_id,
                )
            except SpaceNotAvailable as exc:  # a concurrent writer took it (PostgreSQL)
                conflicts.append(Skipped(occurrence.start, occurrence.end, exc.code, exc.message))
                continue
            created = Reservation(
                ultimo_id=ultimo_id,
                space_id=space.id,
                applicant_id=request.applicant_id,
                description=request.description,
                start=occurrence.start,
                end=occurrence.end,
                preparation_minutes=space.preparation_minutes,
                cleanup_minutes=space.cleanup_minutes,
                status=ReservationStatus.PROCESSED,
                series_id=series_id,
            )
            created_all.append(created)
            booked.append(Booked(ultimo_id, occurrence.start, occurrence.end))
        # Recorded after every insert: on PostgreSQL recording takes the log's lock
        # (storage.audit), which must not be held while an insert waits for another
        # writer's row, or the two could wait for each other.
        for created in created_all:
            await audit.record_on(
                tx, at=now, action="create", before=None, after=created, actor=actor
            )
        if conflicts and (request.on_conflict is ConflictPolicy.FAIL or not booked):
            raise SpaceNotAvailable(space.display_name, _listed(conflicts, zone))
        skipped = _listed(conflicts + plan.gaps, zone)
        if skipped:
            await series_store.change_on(tx, series_id, now, "skipped", json.dumps(skipped))
        return SeriesOutcome(series_id, zone, booked, skipped)

    async def _earlier_on(
        self,
        reads: Reads,
        api_key_id: int | None,
        request: NewSeries,
        fingerprint: str | None,
    ) -> SeriesOutcome | None:
        row = await series_store.by_external_id_on(reads, api_key_id, request.external_id)
        if row is None:
            return None
        if row.request_fingerprint != fingerprint:
            raise DuplicateExternalId(
                f"external_id {request.external_id!r} was already used for series {row.id} "
                "with different content; repeat the identical request or use a new external_id."
            )
        view = await self.view_on(reads, row.id)
        booked = [
            Booked(o.reservation.ultimo_id, o.reservation.start, o.reservation.end)
            for o in view.occurrences
        ]
        return SeriesOutcome(row.id, view.zone, booked, view.skipped)

    async def view_on(self, reads: Reads, series_id: int) -> SeriesView:
        """Return a series with every occurrence (active or cancelled, exceptions marked)."""
        row = await _series_row_on(reads, series_id)
        space = await masterdata.space_on(reads, row.space_id)
        person = await masterdata.person_on(reads, row.applicant_id)
        assert space is not None
        return SeriesView(
            series_id=row.id,
            space_id=row.space_id,
            applicant_id=row.applicant_id,
            applicant_name=person.name if person is not None else "",
            description=row.description,
            rrule=row.rrule,
            exdates=json.loads(row.exdates),
            first_start=row.first_start,
            first_end=row.first_end,
            external_id=row.external_id,
            zone=self.reservations.zone_of(space),
            occurrences=[
                SeriesOccurrence(reservation_from_row(o), bool(o.series_exception))
                for o in await series_store.occurrences_on(reads, row.id)
            ],
            skipped=json.loads(row.skipped),
        )


def outcome_values(outcome: SeriesOutcome) -> dict[str, Any]:
    """Return a create's or change's outcome as the JSON roomline's API answers."""
    return {
        "series_id": outcome.series_id,
        "occurrences": [
            {
                "ultimo_id": None if o.ultimo_id is None else f"{o.ultimo_id:011d}",
                "start": format_iso(o.start, outcome.zone),
                "end": format_iso(o.end, outcome.zone),
            }
            for o in outcome.occurrences
        ],
        "skipped": outcome.skipped,
    }


def series_values(view: SeriesView) -> dict[str, Any]:
    """Return a series as the JSON roomline's API answers (GET /api/booking/series/{id})."""
    zone = view.zone
    occurrences = [
        {
            "ultimo_id": f"{o.reservation.ultimo_id:011d}",
            "start": format_iso(o.reservation.start, zone),
            "end": format_iso(o.reservation.end, zone),
            "status": o.reservation.status.value,
            "exception": o.exception,
        }
        for o in view.occurrences
    ]
    return {
        "series_id": view.series_id,
        "space_id": view.space_id,
        "applicant_id": view.applicant_id,
        "applicant_name": view.applicant_name,
        "description": view.description,
        "rrule": view.rrule,
        "exdates": view.exdates,
        "start": format_iso(view.first_start, zone),
        "end": format_iso(view.first_end, zone),
        "external_id": view.external_id,
        "occurrences": occurrences,
        "exceptions": [o["ultimo_id"] for o in occurrences if o["exception"]],
        "skipped": view.skipped,
    }


async def _series_row_on(reads: Reads, series_id: int) -> Any:
    row = await series_store.get_on(reads, series_id)
    if row is None:
        raise RecordNotFound(f"There is no series {series_id}.")
    return row


def _from(text: str | None, rows: list[Any], zone: ZoneInfo, series_id: int) -> datetime | None:
    """Read ``from``: the start of one of the series' occurrences, or None if not given."""
    if text is None:
        return None
    instant = parse_instant("from", text, zone)
    if not any(row.start_time == instant for row in rows):
        raise InvalidParameter(
            f"from {text!r} is not the start of an occurrence of series {series_id}; give "
            "an occurrence's start as the series shows it."
        )
    return instant


def _moved(
    current: Reservation, zone: ZoneInfo, time_of_day: time | None, duration: timedelta | None
) -> tuple[datetime, datetime] | Skipped:
    """Return ``current``'s new times, keeping its day (and, unless given, its wall-clock
    start and duration); a Skipped if the new wall-clock time falls in a DST gap."""
    local_start = current.start.astimezone(zone).replace(tzinfo=None)
    local_end = current.end.astimezone(zone).replace(tzinfo=None)
    new_start = datetime.combine(local_start.date(), time_of_day or local_start.time())
    new_end = new_start + (duration or local_end - local_start)
    start = wall_clock_instant(new_start, zone)
    end = wall_clock_instant(new_end, zone)
    if start is None or end is None:
        message = (
            f"{new_start.isoformat()} to {new_end.isoformat()} does not exist in time zone "
            f"{zone.key}: the clocks skip that hour when daylight saving time starts."
        )
        return Skipped(new_start, new_end, InvalidDateTime.code, message)
    return start, end


def _time_of_day(text: str | None) -> time | None:
    if text is None:
        return None
    match = _TIME_OF_DAY.fullmatch(text.strip())
    try:
        if match is None:
            raise ValueError(text)
        hour, minute, second = match.groups()
        return time(int(hour), int(minute), int(second or 0))
    except ValueError as exc:
        raise InvalidParameter(
            f"time_of_day {text!r} is not a time of day; use HH:MM or HH:MM:SS (24 hours)."
        ) from exc


def _duration(minutes: int | None) -> timedelta | None:
    if minutes is None:
        return None
    if not 1 <= minutes <= MAX_DURATION_MINUTES:
        raise InvalidParameter(
            f"duration_minutes must be between 1 and {MAX_DURATION_MINUTES}, not {minutes}."
        )
    return timedelta(minutes=minutes)


def _blocked(space: Space, occurrence: Occurrence) -> Any:
    return blocked_interval(
        occurrence.start, occurrence.end, space.preparation_minutes, space.cleanup_minutes
    )


def _written(moment: datetime, zone: ZoneInfo) -> str:
    # A time that does not exist (naive, wall-clock) has no offset to write.
    return moment.isoformat() if moment.tzinfo is None else format_iso(moment, zone)


def _listed(skipped: list[Skipped], zone: ZoneInfo) -> list[dict[str, Any]]:
    """Return ``skipped`` as answered, by start time."""

    def instant(moment: datetime) -> datetime:
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)

    return [s.values(zone) for s in sorted(skipped, key=lambda s: instant(s.start))]


def _fingerprint(request: NewSeries) -> str:
    """Identify a create request by its exact content, so only identical repeats match."""
    content = [
        request.space_id,
        request.applicant_id,
        request.start,
        request.end,
        request.rrule,
        request.description,
        list(request.exdates),
        request.on_conflict.value,
    ]
    return hashlib.sha256(json.dumps(content).encode()).hexdigest()
