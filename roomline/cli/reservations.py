"""``roomline reservations``: every reservation, filtered, for the people running rooms;
and what happens at the door (``check-in``, ``end``, ``extend``), with the same service,
rules and messages as ``/api/booking/reservations/{id}/...``, recorded in the log as done
through "cli"."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from roomline.api.booking.shapes import reservation_json
from roomline.cli.common import Json, database_for, print_json, print_table, reporting_errors
from roomline.cli.options import DatabaseUrl, command_group
from roomline.compat.ultimo.wire import ultimo_id as parse_ultimo_id
from roomline.config import settings_from
from roomline.services.audit import Actor
from roomline.services.clock import clock_for
from roomline.services.door import DoorService
from roomline.services.reservation_listing import (
    DEFAULT_LIMIT,
    ListedReservation,
    list_reservations,
    reservation_values,
)
from roomline.services.reservations import ReservationService, policy_for

app = command_group("Reservations, as stored.")

COLUMNS = (
    ("ultimo_id", "ULTIMO ID"),
    ("space_id", "SPACE"),
    ("start", "START"),
    ("end", "END"),
    ("status", "STATUS"),
    ("applicant_id", "APPLICANT"),
    ("applicant_name", "NAME"),
    ("description", "DESCRIPTION"),
)
TIME_HELP = (
    "'yyyy-MM-dd HH:mm:ss' (wall-clock in the space's zone, or the default zone "
    "without --space), ...Z for UTC, or ISO 8601 with an offset"
)


@app.command("list")
def list_(
    space: Annotated[str | None, typer.Option("--space", help="Only this space.")] = None,
    from_time: Annotated[
        str | None, typer.Option("--from", help=f"Only those ending after this: {TIME_HELP}.")
    ] = None,
    till_time: Annotated[
        str | None, typer.Option("--till", help="Only those starting before this.")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="Processed, Cancelled or all (default).")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", help="At most this many; says so when there are more.")
    ] = DEFAULT_LIMIT,
    json: Annotated[bool, Json] = False,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """List reservations overlapping [--from, --till), by start time."""
    with database_for(database_url) as database:
        settings = settings_from(database_url=database_url)
        listing = list_reservations(
            database,
            default_zone=settings.default_time_zone,
            space_id=space,
            from_time=from_time,
            till_time=till_time,
            status=status,
            limit=limit,
            field_names=("--from", "--till"),
        )
    rows = [reservation_values(item) for item in listing.items]
    if json:
        print_json(rows)
    else:
        print_table(rows, COLUMNS)
    if listing.truncated:
        typer.echo(
            f"note: only the first {limit} reservations are shown; narrow the filter "
            "or raise --limit.",
            err=True,
        )


ACTOR = Actor(workflow="cli")
UltimoId = typer.Argument(help="The reservation's UltimoId, e.g. 00000006712.")


@contextmanager
def door_service(database_url: str | None) -> Iterator[DoorService]:
    with database_for(database_url) as database:
        settings = settings_from(database_url=database_url)
        service = ReservationService(database, clock_for(settings.demo), policy_for(settings))
        yield DoorService(service, settings.default_time_zone)


def _number(text: str) -> int:
    with reporting_errors():
        return parse_ultimo_id(text)


def _show(listed: ListedReservation, json: bool, said: str) -> None:
    values = reservation_json(listed.reservation, listed.applicant_name, listed.time_zone)
    if json:
        print_json(values)
    else:
        typer.echo(said.format(**values))


@app.command("check-in")
def check_in(
    ultimo_id: Annotated[str, UltimoId],
    json: Annotated[bool, Json] = False,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Check in at the door (a second check-in shows the first's time)."""
    number = _number(ultimo_id)
    with door_service(database_url) as service:
        listed = service.check_in(number, ACTOR)
    _show(listed, json, "checked in {ultimo_id} at {checked_in_at} (by {checked_in_by})")


@app.command("end")
def end(
    ultimo_id: Annotated[str, UltimoId],
    json: Annotated[bool, Json] = False,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """End a running reservation now; its cleanup follows and the rest is free."""
    number = _number(ultimo_id)
    with door_service(database_url) as service:
        listed = service.end_early(number, ACTOR)
    _show(listed, json, "ended {ultimo_id} at {end} (room blocked until {blocked_end})")


@app.command("extend")
def extend(
    ultimo_id: Annotated[str, UltimoId],
    minutes: Annotated[int, typer.Option("--minutes", help="How much later it ends (1-720).")] = 15,
    json: Annotated[bool, Json] = False,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Move a reservation's end later, if the room is free for it."""
    number = _number(ultimo_id)
    with door_service(database_url) as service:
        listed = service.extend(number, minutes, ACTOR)
    _show(listed, json, "extended {ultimo_id} to {end}")
