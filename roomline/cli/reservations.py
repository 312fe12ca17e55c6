"""``roomline reservations list``: every reservation, filtered, for the people running rooms."""

from __future__ import annotations

from typing import Annotated

import typer

from roomline.cli.common import Json, database_for, print_json, print_table
from roomline.cli.options import DatabaseUrl, command_group
from roomline.config import settings_from
from roomline.services.reservation_listing import (
    DEFAULT_LIMIT,
    list_reservations,
    reservation_values,
)

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
