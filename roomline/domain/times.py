"""Reading and writing instants the way Ultimo clients send and expect them.

Invariant: every instant that leaves this module is an aware ``datetime`` in UTC.
Wall-clock text is read in the space's zone; a wall-clock time that falls in a
spring-forward gap does not exist and is refused, one in the fall-back hour means the
earlier of its two instants (``fold=0``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from roomline.domain.errors import ALLOWED_TIME_FORMATS, InvalidDateTime, InvalidParameter

_TIME_TEXT = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})"
    r"(?:\.(\d{1,7}))?"  # the fraction
    r"([Zz]|[+-]\d{2}:?\d{2})?",  # the UTC offset
    re.ASCII,  # only 0-9 are digits here: int() would also read "٢٠٣٠" as 2030
)
# Instants must stay representable after subtracting preparation time, adding cleanup
# time and converting between zones, so the extreme years are kept out. The range is one
# of instants, not of the text's year: an instant near its edge written in a zone far from
# UTC reads 1899 or 9999, and such text (roomline's own answers) must be accepted back.
FIRST_YEAR, LAST_YEAR = 1900, 9998
FIRST_INSTANT = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
AFTER_LAST_INSTANT = datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC)
_MAX_OFFSET = timedelta(hours=18)
_MINUTE = timedelta(minutes=1)


def zone_named(name: str) -> ZoneInfo:
    """Return the IANA zone called ``name``; raise InvalidParameter if there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidParameter(f"Unknown IANA time zone {name!r}.") from exc


# A pure function of its arguments, and the same window is asked for again and again
# (a door panel polls today's): answers are kept, refusals (raised) are not.
@lru_cache(maxsize=4096)
def parse_instant(field: str, text: str, zone: ZoneInfo) -> datetime:
    """Read ``text`` (the value of ``field``) as an instant; wall-clock means ``zone``."""
    match = _TIME_TEXT.fullmatch(text)
    if match is None:
        raise InvalidDateTime(
            f"{field} {text!r} is not a valid date and time; use {ALLOWED_TIME_FORMATS}."
        )
    year, month, day, hour, minute, second, fraction, offset_text = match.groups()
    try:
        fields = (
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int(fraction.ljust(6, "0")[:6]) if fraction else 0,
        )
        if offset_text is None:
            local = datetime(*fields, tzinfo=zone)  # fold=0: the earlier of two instants
        else:
            naive = datetime(*fields)
    except ValueError as exc:
        raise InvalidDateTime(f"{field} {text!r} is not a real calendar date and time.") from exc
    try:
        if offset_text is None:
            instant = _from_wall_clock(field, text, local, zone)
        elif offset_text in ("Z", "z"):
            instant = naive.replace(tzinfo=UTC)
        else:
            instant = _with_offset(field, text, naive, offset_text)
    except OverflowError:  # year 1 or 9999 moved past the calendar's end by its offset
        instant = AFTER_LAST_INSTANT if fields[0] > LAST_YEAR else FIRST_INSTANT - _MINUTE
    if not FIRST_INSTANT <= instant < AFTER_LAST_INSTANT:
        raise InvalidDateTime(
            f"{field} {text!r} is out of range; instants in the years {FIRST_YEAR} to "
            f"{LAST_YEAR} (UTC) are supported."
        )
    return instant


def _with_offset(field: str, text: str, naive: datetime, offset_text: str) -> datetime:
    sign = -1 if offset_text[0] == "-" else 1
    digits = offset_text[1:].replace(":", "")
    offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    if abs(offset) > _MAX_OFFSET or int(digits[2:]) > 59:
        raise InvalidDateTime(f"{field} {text!r} has an impossible UTC offset {offset_text}.")
    return naive.replace(tzinfo=timezone(offset)).astimezone(UTC)


def _from_wall_clock(field: str, text: str, local: datetime, zone: ZoneInfo) -> datetime:
    instant = wall_clock_instant(local.replace(tzinfo=None), zone)
    if instant is None:
        raise InvalidDateTime(
            f"{field} {text!r} does not exist in time zone {zone.key}: the clocks skip that "
            "hour when daylight saving time starts. Send a time outside the gap or give an "
            "explicit UTC offset."
        )
    return instant


def wall_clock_instant(local: datetime, zone: ZoneInfo) -> datetime | None:
    """Return the UTC instant of the naive wall-clock time ``local`` in ``zone``: the
    earlier one in the fall-back hour, None in a spring-forward gap (it does not exist)."""
    aware = local.replace(tzinfo=zone)  # fold=0: the earlier of two instants
    instant = aware.astimezone(UTC)
    # The wall clock read back differs from ``local`` exactly when the offsets do; that
    # happens only for a time in a gap, which fold=0 reads with the offset before it.
    if instant.astimezone(zone).utcoffset() != aware.utcoffset():
        return None
    return instant


def format_instant(instant: datetime, zone: ZoneInfo) -> str:
    """Write ``instant`` as Ultimo does: ``yyyy-MM-ddTHH:mm:ss.ffffff±HH:MM`` in ``zone``."""
    local = instant.astimezone(zone)
    offset = local.utcoffset()
    if offset is not None and offset % _MINUTE:
        # Local mean time (Amsterdam until 1937, Monrovia until 1972) has offsets such as
        # +00:19:32, which ±HH:MM and .NET's DateTimeOffset cannot hold. Round the offset
        # to the minute and move the wall clock with it: the text still names the instant.
        local = instant.astimezone(timezone(timedelta(minutes=round(offset / _MINUTE))))
    return local.isoformat(timespec="microseconds")


def format_iso(instant: datetime, zone: ZoneInfo) -> str:
    """Write ``instant`` for roomline's own API: ISO 8601 in ``zone`` with its offset,
    ``2030-01-07T09:00:00+01:00``; a fraction of a second only where there is one."""
    text = format_instant(instant, zone)
    return text[:19] + text[26:] if text[19:26] == ".000000" else text


# An instant in UTC as text, the form SQLite stores it in (SQLAlchemy's storage format):
# ``YYYY-MM-DD HH:MM:SS.ffffff``. Text in this form sorts as the instants do.
UTC_TEXT_LENGTH = 26


def utc_text(instant: datetime) -> str:
    """Write an aware ``instant`` as UTC text (``YYYY-MM-DD HH:MM:SS.ffffff``)."""
    utc = instant.astimezone(UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d} "
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond:06d}"
    )


def format_utc_text(text: str, zone: ZoneInfo) -> str:
    """``format_instant`` for an instant given as UTC text, without building datetimes.

    A Get writes four times for each reservation; converting and formatting datetimes
    was most of its cost. Offsets are rounded to the minute (see ``format_instant``), so
    a zone only changes the date, hour and minute of the text and adds an offset: those
    are looked up per UTC minute, and the seconds and fraction are copied.
    """
    wall, offset = _local_minute(zone, text[:16])
    return wall + text[16:] + offset


@lru_cache(maxsize=65536)
def _local_minute(zone: ZoneInfo, utc_minute: str) -> tuple[str, str]:
    # ``YYYY-MM-DDTHH:MM:00.000000±HH:MM``: the wall clock up to the minute, and the offset.
    text = format_instant(datetime.fromisoformat(utc_minute + "+00:00"), zone)
    return text[:16], text[26:]
