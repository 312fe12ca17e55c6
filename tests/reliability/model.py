"""A small in-memory reference model of the reservation rules (SPEC §3-4).

It is written from the specification, not from roomline's code: wall-clock text is read
by trying every offset the zone used near that date (never through ``fold``), and each
rule is a plain comparison. The property tests run random sequences of requests against
roomline and against this model, and demand the same answers and the same stored state.

Times are generated as structured values (``TimeText``) so the model knows what the text
means without parsing it: a naive date-time, and how it is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

GRACE = timedelta(minutes=5)
MAX_WINDOW = timedelta(days=366)
# The forms a client may write a time in; "wall" forms mean the space's zone.
FORMS = ("wall", "wall-T", "utc", "offset", "impossible")


@dataclass(frozen=True)
class TimeText:
    naive: datetime  # no tzinfo: wall clock, UTC or at ``offset``, as ``form`` says
    form: str
    offset_minutes: int = 0

    @property
    def text(self) -> str:
        if self.form == "wall":
            return self.naive.strftime("%Y-%m-%d %H:%M:%S")
        if self.form == "wall-T":
            return self.naive.strftime("%Y-%m-%dT%H:%M:%S")
        if self.form == "utc":
            return self.naive.strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.form == "offset":
            sign = "-" if self.offset_minutes < 0 else "+"
            hours, minutes = divmod(abs(self.offset_minutes), 60)
            return self.naive.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{hours:02d}:{minutes:02d}"
        return self.naive.strftime("%Y-02-30 %H:%M:%S")  # a date that does not exist


class Refused(Exception):
    """The model's verdict that roomline must refuse, with the error code it must give."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def instant_of(time: TimeText, zone: ZoneInfo) -> datetime:
    """Return the instant ``time`` names in ``zone``; Refused('InvalidDateTime') if none."""
    if time.form == "impossible":
        raise Refused("InvalidDateTime")
    if time.form == "utc":
        return time.naive.replace(tzinfo=UTC)
    if time.form == "offset":
        return time.naive.replace(tzinfo=timezone(timedelta(minutes=time.offset_minutes)))
    # Wall clock: every offset the zone had within two days is a candidate; the instants
    # that read back as this wall time are the meanings (none: a gap; two: the fall-back
    # hour, where the earlier is meant).
    probe = time.naive.replace(tzinfo=UTC)
    offsets = {
        (probe + timedelta(hours=hours)).astimezone(zone).utcoffset() for hours in range(-48, 49)
    }
    meanings = [
        candidate
        for offset in offsets
        if offset is not None
        for candidate in [(time.naive - offset).replace(tzinfo=UTC)]
        if candidate.astimezone(zone).replace(tzinfo=None) == time.naive
    ]
    if not meanings:
        raise Refused("InvalidDateTime")
    return min(meanings)


@dataclass
class ModelSpace:
    id: str
    zone: ZoneInfo
    preparation: int
    cleanup: int


@dataclass(frozen=True)
class ModelReservation:
    ultimo_id: int
    space_id: str
    description: str
    start: datetime
    end: datetime
    preparation: int
    cleanup: int
    active: bool = True

    @property
    def blocked(self) -> tuple[datetime, datetime]:
        return (
            self.start - timedelta(minutes=self.preparation),
            self.end + timedelta(minutes=self.cleanup),
        )

    def row(self) -> tuple[object, ...]:
        """What roomline must have stored for it."""
        status = "Processed" if self.active else "Cancelled"
        return (
            self.ultimo_id,
            self.space_id,
            self.description,
            self.start,
            self.end,
            self.preparation,
            self.cleanup,
            status,
        )


@dataclass(frozen=True)
class NewBooking:
    space_id: str
    applicant_id: str
    start: TimeText
    end: TimeText
    description: str = ""
    external_id: str = ""
    key: int = 0

    def content(self) -> tuple[str, ...]:
        """What makes a repeat identical: the text of every property."""
        return (self.space_id, self.applicant_id, self.start.text, self.end.text, self.description)


@dataclass
class Model:
    now: datetime
    people: set[str]
    spaces: dict[str, ModelSpace] = field(default_factory=dict)
    reservations: dict[int, ModelReservation] = field(default_factory=dict)
    external_ids: dict[tuple[int, str], tuple[int, tuple[str, ...]]] = field(default_factory=dict)

    # ---- create ------------------------------------------------------------------
    def create(self, booking: NewBooking) -> int | ModelReservation:
        """Return the UltimoId a repeat answers, or the reservation to make; or Refused."""
        if booking.external_id:
            earlier = self.external_ids.get((booking.key, booking.external_id))
            if earlier is not None:
                if earlier[1] != booking.content():
                    raise Refused("DuplicateExternalId")
                return earlier[0]
        space = self.spaces.get(booking.space_id)
        if space is None:
            raise Refused("UnknownSpace")
        if booking.applicant_id not in self.people:
            raise Refused("UnknownApplicant")
        start = instant_of(booking.start, space.zone)
        end = instant_of(booking.end, space.zone)
        self._check_new_times(start, end)
        candidate = ModelReservation(
            0, space.id, booking.description, start, end, space.preparation, space.cleanup
        )
        self._check_free(candidate)
        return candidate

    def created(self, booking: NewBooking, made: ModelReservation, ultimo_id: int) -> None:
        """Record that roomline made ``made`` as ``ultimo_id`` (numbers only ever grow)."""
        assert ultimo_id > max(self.reservations, default=0), "an UltimoId was reused"
        self.reservations[ultimo_id] = replace(made, ultimo_id=ultimo_id)
        if booking.external_id:
            self.external_ids[(booking.key, booking.external_id)] = (
                ultimo_id,
                booking.content(),
            )

    # ---- update ------------------------------------------------------------------
    def update(
        self, ultimo_id: int, start_text: TimeText | None, end_text: TimeText | None
    ) -> ModelReservation:
        """Return the reservation as it must be after the update; or Refused."""
        current = self.reservations.get(ultimo_id)
        if current is None:
            raise Refused("UnknownReservation")
        space = self.spaces[current.space_id]
        start = current.start if start_text is None else instant_of(start_text, space.zone)
        end = current.end if end_text is None else instant_of(end_text, space.zone)
        if not current.active:
            raise Refused("ReservationCancelled")
        if current.end <= self.now:
            raise Refused("1166")
        if current.start <= self.now:  # running: the start stays, the end may move
            if start != current.start:
                raise Refused("ReservationStarted")
            if end <= start:
                raise Refused("InvalidTimeSpan")
            if end <= self.now:
                raise Refused("EndTimeInPast")
        else:
            self._check_new_times(start, end)
        moved = replace(
            current, start=start, end=end, preparation=space.preparation, cleanup=space.cleanup
        )
        self._check_free(moved)
        return moved

    def updated(self, moved: ModelReservation) -> None:
        self.reservations[moved.ultimo_id] = moved

    # ---- cancel ------------------------------------------------------------------
    def cancel(self, ultimo_id: int) -> None:
        current = self.reservations.get(ultimo_id)
        if current is None:
            raise Refused("UnknownReservation")
        if not current.active:
            return  # cancelling again succeeds and changes nothing
        if current.end <= self.now:
            raise Refused("1166")
        self.reservations[ultimo_id] = replace(current, active=False)

    # ---- get ---------------------------------------------------------------------
    def window(self, space_id: str, since: TimeText, till: TimeText) -> list[int]:
        """Return the UltimoIds Get must list, in order; or Refused."""
        space = self.spaces.get(space_id)
        if space is None:
            raise Refused("UnknownSpace")
        start = instant_of(since, space.zone)
        end = instant_of(till, space.zone)
        if end <= start:
            raise Refused("InvalidTimeSpan")
        if end - start > MAX_WINDOW:
            raise Refused("WindowTooLarge")
        listed = [
            r
            for r in self.reservations.values()
            if r.space_id == space_id and r.active and r.start < end and r.end > start
        ]
        return [r.ultimo_id for r in sorted(listed, key=lambda r: (r.start, r.ultimo_id))]

    # ---- rules shared by create and update ---------------------------------------
    def _check_new_times(self, start: datetime, end: datetime) -> None:
        if end <= start:
            raise Refused("InvalidTimeSpan")
        if end <= self.now:
            raise Refused("EndTimeInPast")
        if start < self.now - GRACE:
            raise Refused("StartTimeInPast")

    def _check_free(self, candidate: ModelReservation) -> None:
        low, high = candidate.blocked
        for other in self.reservations.values():
            if (
                other.active
                and other.space_id == candidate.space_id
                and other.ultimo_id != candidate.ultimo_id
                and other.blocked[0] < high
                and low < other.blocked[1]
            ):
                raise Refused("1015")

    def stored_rows(self) -> set[tuple[object, ...]]:
        return {reservation.row() for reservation in self.reservations.values()}
