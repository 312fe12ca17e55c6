"""Utilisation reports (docs/reports.md): how the rooms were used over a period.

The report reads the reservations and the log of changes (cancellations, check-ins,
releases) as they are now, never a copy of them. The period is local days
``[from, till)`` in each space's own zone; the figures are added up per space and then
rolled up per floor, building and all (domain/utilisation.py).
"""

from __future__ import annotations

import csv
import gc
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from roomline.domain.errors import InvalidParameter
from roomline.domain.reservations import Space
from roomline.domain.times import FIRST_YEAR, LAST_YEAR, zone_named
from roomline.domain.utilisation import (
    DAY_NAMES,
    FIGURE_NAMES,
    Calendar,
    Tally,
    WorkingHours,
    figures,
    local_midnight,
    parse_working_hours,
    tally_space,
    week_start,
    working_windows,
    zone_offsets,
)
from roomline.storage import masterdata
from roomline.storage import reports as store
from roomline.storage.database import Database

GROUPS = ("space", "floor", "building")
FORMATS = ("json", "csv")
# Longer periods are refused: a report is for a week, a month, a quarter or a year.
MAX_DAYS = 400
KEY_COLUMNS = {
    "space": ("space", "building", "floor"),
    "floor": ("building", "floor"),
    "building": ("building",),
}


@dataclass(frozen=True, slots=True)
class Report:
    first: date
    till: date
    group: str
    working_hours: str
    rows: list[tuple[dict[str, str | None], Tally]]
    total: Tally


def parse_group(text: str | None) -> str:
    """Read ``group``: space (default), floor or building."""
    group = (text or "space").strip().lower()
    if group not in GROUPS:
        raise InvalidParameter(f"group {text!r} is not one of {', '.join(GROUPS)}.")
    return group


def parse_format(text: str | None, allowed: tuple[str, ...] = FORMATS) -> str:
    """Read ``format``: one of ``allowed`` (the first is the default)."""
    chosen = (text or allowed[0]).strip().lower()
    if chosen not in allowed:
        raise InvalidParameter(f"format {text!r} is not one of {', '.join(allowed)}.")
    return chosen


def parse_period(from_text: str | None, till_text: str | None) -> tuple[date, date]:
    """Read ``from`` and ``till``: local dates yyyy-mm-dd, ``till`` not included."""
    first, till = _day("from", from_text), _day("till", till_text)
    if first.year < FIRST_YEAR or till.year > LAST_YEAR:
        raise InvalidParameter(f"a report covers days in the years {FIRST_YEAR} to {LAST_YEAR}.")
    if till <= first:
        raise InvalidParameter(f"till {till_text!r} must be after from {from_text!r}.")
    if (till - first).days > MAX_DAYS:
        raise InvalidParameter(
            f"a report covers at most {MAX_DAYS} days; ask for a shorter period."
        )
    return first, till


def _day(name: str, text: str | None) -> date:
    if not text:
        raise InvalidParameter(f"{name} is required: a date yyyy-mm-dd.")
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidParameter(f"{name} {text[:40]!r} is not a date yyyy-mm-dd.") from exc


def utilisation_report(
    database: Database,
    working_hours: str,
    default_zone: str,
    from_text: str | None,
    till_text: str | None,
    group_text: str | None,
) -> Report:
    """Read the request's ``from``, ``till`` and ``group`` and compute its report."""
    first, till = parse_period(from_text, till_text)
    group = parse_group(group_text)
    return utilisation(
        database, parse_working_hours(working_hours), default_zone, first, till, group
    )


def utilisation(
    database: Database,
    hours: WorkingHours,
    default_zone: str,
    first: date,
    till: date,
    group: str,
) -> Report:
    """Compute the utilisation report of local days ``[first, till)``, grouped by ``group``."""
    with _collector_paused():
        spaces, tallies = _space_tallies(database, hours, default_zone, first, till)
    grouped: dict[tuple[str, ...], Tally] = {}
    keys: dict[tuple[str, ...], dict[str, str | None]] = {}
    for space_id, tally in tallies.items():
        space = spaces[space_id]
        values = {"space": space.id, "building": space.building, "floor": space.floor}
        key_values = {column: values[column] for column in KEY_COLUMNS[group]}
        sort_key = tuple(
            key_values[c] or "" for c in ("building", "floor", "space") if c in key_values
        )
        keys[sort_key] = key_values
        grouped.setdefault(sort_key, Tally()).add(tally)
    total = Tally()
    for tally in grouped.values():
        total.add(tally)
    return Report(
        first,
        till,
        group,
        hours.text,
        [(keys[key], grouped[key]) for key in sorted(grouped)],
        total,
    )


def _space_tallies(
    database: Database, hours: WorkingHours, default_zone: str, first: date, till: date
) -> tuple[dict[str, Space], dict[str, Tally]]:
    """Every space, and what its reservations of local days ``[first, till)`` add up to."""
    with database.read() as conn:
        spaces = {space.id: space for space in masterdata.list_spaces(conn)}
        calendars = _calendars(spaces.values(), default_zone, hours, first, till)
        if not calendars:
            return spaces, {}
        start = _instant(min(calendar.first for calendar in calendars.values()))
        end = _instant(max(calendar.last for calendar in calendars.values()))
        by_space: dict[str, list[Any]] = {space_id: [] for space_id in spaces}
        for row in store.reservation_rows(conn, start, end):
            by_space[row[0]].append(row)
    tallies = {
        space_id: tally_space(
            reservations,
            calendars[spaces[space_id].time_zone or default_zone],
            spaces[space_id].capacity,
        )
        for space_id, reservations in by_space.items()
    }
    return spaces, tallies


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Hold Python's cycle collector off while a report reads and adds up its rows.

    A quarter is near a million tuples of numbers and strings, which hold no cycles; the
    collector, woken by every 700 new objects, would walk them again and again and find
    nothing to free (a tenth of the report's time). Process-wide: other threads' garbage
    waits the second or two, then the collector runs as before.
    """
    if not gc.isenabled():  # already held off (another report, or the host)
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _calendars(
    spaces: Any, default_zone: str, hours: WorkingHours, first: date, till: date
) -> dict[str, Calendar]:
    """One calendar per zone the spaces are in: local days ``[first, till)``."""
    calendars = {}
    for name in {space.time_zone or default_zone for space in spaces}:
        zone = zone_named(name)
        start, end = local_midnight(first, zone), local_midnight(till, zone)
        windows = working_windows(hours, first, till, zone)
        calendars[name] = Calendar(start, end, windows, zone_offsets(zone, start, end))
    return calendars


def _instant(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def report_json(report: Report) -> dict[str, Any]:
    """The report as the API's JSON: rows, the total, busy hours by weekday and hour, weeks."""
    busy = report.total.busy
    return {
        "from": report.first.isoformat(),
        "till": report.till.isoformat(),
        "group": report.group,
        "working_hours": report.working_hours,
        "rows": [{**key, **figures(tally)} for key, tally in report.rows],
        "total": figures(report.total),
        "busy_hours": {
            day.capitalize(): [round(busy[index * 24 + hour] / 3600, 2) for hour in range(24)]
            for index, day in enumerate(DAY_NAMES)
        },
        "weeks": [
            {
                "week": week_start(week).isoformat(),
                "reservations": counts[0],
                "late_cancelled": counts[1],
                "released": counts[2],
            }
            for week, counts in sorted(report.total.weeks.items())
        ],
    }


def csv_columns(group: str) -> tuple[str, ...]:
    """The CSV header of a report grouped by ``group``."""
    return KEY_COLUMNS[group] + FIGURE_NAMES


def report_csv(report: Report) -> str:
    """The report's rows and total as CSV (the total's first column says ``all``)."""
    columns = csv_columns(report.group)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    total_key = {
        column: "all" if index == 0 else None
        for index, column in enumerate(KEY_COLUMNS[report.group])
    }
    for key, tally in [*report.rows, (total_key, report.total)]:
        values = {**key, **figures(tally)}
        writer.writerow(["" if values[column] is None else values[column] for column in columns])
    return out.getvalue()
