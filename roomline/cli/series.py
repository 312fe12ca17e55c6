"""``roomline series``: recurring reservations on the configured database.

The same service as ``/api/booking/series``, with the same rules and messages; writes are
recorded in the audit trail as done through "cli".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from roomline.cli.common import Json, database_for, print_json, print_table
from roomline.cli.options import DatabaseUrl
from roomline.config import settings_from
from roomline.domain.recurrence import ConflictPolicy
from roomline.services.audit import Actor
from roomline.services.clock import clock_for
from roomline.services.reservations import ReservationService, policy_for
from roomline.services.series import (
    NewSeries,
    SeriesChange,
    SeriesService,
    outcome_values,
    series_values,
)

app = typer.Typer(help="Recurring reservations (series).", no_args_is_help=True)

ACTOR = Actor(workflow="cli")
TIME_HELP = "'yyyy-MM-dd HH:mm:ss' (wall-clock in the space's zone), ...Z, or ISO 8601 with offset"
OnConflict = typer.Option(
    "--on-conflict",
    help="fail: store nothing if any occurrence conflicts; skip: book the free ones.",
)
From = typer.Option("--from", help="The start of the first occurrence to change, as shown.")
BOOKED_COLUMNS = (("ultimo_id", "ULTIMO ID"), ("start", "START"), ("end", "END"))
SKIPPED_COLUMNS = (("start", "START"), ("end", "END"), ("code", "CODE"), ("message", "WHY"))
SERIES_COLUMNS = (
    *BOOKED_COLUMNS,
    ("status", "STATUS"),
    ("exception", "EXCEPTION"),
)


@contextmanager
def series_service(database_url: str | None) -> Iterator[SeriesService]:
    with database_for(database_url) as database:
        settings = settings_from(database_url=database_url)
        yield SeriesService(
            ReservationService(database, clock_for(settings.demo), policy_for(settings))
        )


@app.command("create")
def create(
    space: Annotated[str, typer.Option("--space", help="The space to book.")],
    applicant: Annotated[str, typer.Option("--applicant", help="The person booking.")],
    start: Annotated[str, typer.Option("--start", help=f"First occurrence's start: {TIME_HELP}.")],
    end: Annotated[str, typer.Option("--end", help="First occurrence's end.")],
    rrule: Annotated[
        str, typer.Option("--rrule", help="RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO;COUNT=10.")
    ],
    description: Annotated[str, typer.Option("--description")] = "",
    exdate: Annotated[
        list[str] | None, typer.Option("--exdate", help="An occurrence's start to leave out.")
    ] = None,
    on_conflict: Annotated[ConflictPolicy, OnConflict] = ConflictPolicy.FAIL,
    preview: Annotated[
        bool, typer.Option("--preview", help="Show what would be booked; store nothing.")
    ] = False,
    json: Annotated[bool, Json] = False,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Book a recurring reservation: one ordinary reservation per occurrence."""
    request = NewSeries(
        space_id=space,
        applicant_id=applicant,
        start=start,
        end=end,
        rrule=rrule,
        description=description,
        exdates=tuple(exdate or ()),
        on_conflict=on_conflict,
    )
    with series_service(database_url) as service:
        outcome = service.preview(request) if preview else service.create(request, None, ACTOR)
    _show_outcome(outcome_values(outcome), json)


@app.command("show")
def show(
    series_id: Annotated[int, typer.Argument(help="The series' id.")],
    json: Annotated[bool, Json] = False,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Show a series: its rule and every occurrence with its status."""
    with series_service(database_url) as service:
        values = series_values(service.get(series_id))
    _show_series(values, json)


@app.command("update")
def update(
    series_id: Annotated[int, typer.Argument(help="The series' id.")],
    from_time: Annotated[str | None, From] = None,
    time_of_day: Annotated[
        str | None, typer.Option("--time", help="New wall-clock start, HH:MM.")
    ] = None,
    duration: Annotated[
        int | None, typer.Option("--duration", help="New duration in minutes.")
    ] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    on_conflict: Annotated[ConflictPolicy, OnConflict] = ConflictPolicy.FAIL,
    json: Annotated[bool, Json] = False,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Change the time, duration or description of every occurrence from --from on
    (default: every one not yet started), leaving exceptions alone."""
    change = SeriesChange(
        series_id=series_id,
        from_time=from_time,
        time_of_day=time_of_day,
        duration_minutes=duration,
        description=description,
        on_conflict=on_conflict,
    )
    with series_service(database_url) as service:
        outcome = service.update(change, ACTOR)
    _show_outcome(outcome_values(outcome), json)


@app.command("cancel")
def cancel(
    series_id: Annotated[int, typer.Argument(help="The series' id.")],
    from_time: Annotated[str | None, From] = None,
    json: Annotated[bool, Json] = False,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Cancel every occurrence from --from on (default: every one not yet ended),
    leaving exceptions alone."""
    with series_service(database_url) as service:
        view, cancelled = service.cancel(series_id, from_time, ACTOR)
    values = {**series_values(view), "cancelled": [f"{number:011d}" for number in cancelled]}
    if json:
        print_json(values)
        return
    typer.echo(f"cancelled {len(cancelled)} occurrences")
    _show_series(values, json=False)


def _show_outcome(values: dict[str, Any], json: bool) -> None:
    if json:
        print_json(values)
        return
    if values["series_id"] is not None:
        typer.echo(f"series {values['series_id']}")
    print_table(values["occurrences"], BOOKED_COLUMNS)
    if values["skipped"]:
        typer.echo("skipped:")
        print_table(values["skipped"], SKIPPED_COLUMNS)


def _show_series(values: dict[str, Any], json: bool) -> None:
    if json:
        print_json(values)
        return
    typer.echo(
        f"series {values['series_id']}: {values['description'] or '(no description)'}, "
        f"{values['space_id']}, {values['rrule']}"
    )
    print_table(values["occurrences"], SERIES_COLUMNS)
