"""``roomline spaces``: add, update, list, remove, import and export spaces."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from roomline.cli.common import (
    Json,
    database_for,
    print_json,
    print_table,
    progress_bar,
    read_input,
    reporting_errors,
    write_output,
)
from roomline.cli.options import DatabaseUrl, command_group
from roomline.domain.masterdata import space_values
from roomline.services import spaces as service
from roomline.services.transfer import format_named, read_records

app = command_group("Spaces (rooms) that can be reserved.")

SpaceId = typer.Argument(help="The space's id, as clients send it in SpaceId.")
Description = typer.Option("--description", help="Shown to people; used in the 1015 message.")
TimeZone = typer.Option(
    "--time-zone", help="IANA zone, e.g. Europe/Amsterdam; 'none' for the server's default."
)
Preparation = typer.Option("--preparation-minutes", help="Blocked before each reservation.")
Cleanup = typer.Option("--cleanup-minutes", help="Blocked after each reservation.")
Capacity = typer.Option("--capacity", help="Seats, or 'none'.")
Building = typer.Option("--building", help="The building, e.g. HQ; 'none' clears it.")
Floor = typer.Option("--floor", help="The floor as text, e.g. 2 or B1; 'none' clears it.")
Features = typer.Option(
    "--features", help="Tags joined by commas, e.g. projector,video; 'none' clears them."
)
Bookable = typer.Option("--bookable/--not-bookable", help="Whether it can be reserved.")
CheckInRequired = typer.Option(
    "--check-in-required/--no-check-in-required",
    help="Whether reservations must be checked into at the door (default: no).",
)
CheckInOpens = typer.Option(
    "--check-in-opens-minutes", help="How long before a reservation's start check-in opens (15)."
)
AutoRelease = typer.Option(
    "--auto-release-minutes",
    help="With check-in required: release a reservation nobody checked into this long after "
    "its start (10; 0 never releases).",
)
FormatOption = typer.Option("--format", help="csv or json (default: from the file name).")
ShowProgress = typer.Option(
    "--progress/--no-progress", help="Show a progress bar (default: long imports on a terminal)."
)

COLUMNS = (
    ("id", "ID"),
    ("description", "DESCRIPTION"),
    ("time_zone", "TIME ZONE"),
    ("preparation_minutes", "PREP"),
    ("cleanup_minutes", "CLEANUP"),
    ("capacity", "CAPACITY"),
    ("bookable", "BOOKABLE"),
    ("building", "BUILDING"),
    ("floor", "FLOOR"),
    ("features", "FEATURES"),
    ("check_in_required", "CHECK-IN"),
    ("check_in_opens_minutes", "OPENS"),
    ("auto_release_minutes", "RELEASE"),
)


def _given(**options: Any) -> dict[str, Any]:
    """Keep the options that were given; 'none' clears a zone, capacity, building, floor
    or features."""
    values = {name: value for name, value in options.items() if value is not None}
    for name in ("time_zone", "capacity", "building", "floor", "features"):
        if isinstance(values.get(name), str) and values[name].strip().lower() == "none":
            values[name] = None
    return values


@app.command("add")
def add(
    space_id: Annotated[str, SpaceId],
    description: Annotated[str | None, Description] = None,
    time_zone: Annotated[str | None, TimeZone] = None,
    preparation_minutes: Annotated[int | None, Preparation] = None,
    cleanup_minutes: Annotated[int | None, Cleanup] = None,
    capacity: Annotated[str | None, Capacity] = None,
    building: Annotated[str | None, Building] = None,
    floor: Annotated[str | None, Floor] = None,
    features: Annotated[str | None, Features] = None,
    bookable: Annotated[bool, Bookable] = True,
    check_in_required: Annotated[bool | None, CheckInRequired] = None,
    check_in_opens_minutes: Annotated[int | None, CheckInOpens] = None,
    auto_release_minutes: Annotated[int | None, AutoRelease] = None,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Add a space."""
    values = _given(
        id=space_id,
        description=description,
        time_zone=time_zone,
        preparation_minutes=preparation_minutes,
        cleanup_minutes=cleanup_minutes,
        capacity=capacity,
        building=building,
        floor=floor,
        features=features,
        bookable=bookable,
        check_in_required=check_in_required,
        check_in_opens_minutes=check_in_opens_minutes,
        auto_release_minutes=auto_release_minutes,
    )
    with database_for(database_url) as database:
        space = service.add_space(database, values)
    typer.echo(f"added space {space.id}")


@app.command("update")
def update(
    space_id: Annotated[str, SpaceId],
    description: Annotated[str | None, Description] = None,
    time_zone: Annotated[str | None, TimeZone] = None,
    preparation_minutes: Annotated[int | None, Preparation] = None,
    cleanup_minutes: Annotated[int | None, Cleanup] = None,
    capacity: Annotated[str | None, Capacity] = None,
    building: Annotated[str | None, Building] = None,
    floor: Annotated[str | None, Floor] = None,
    features: Annotated[str | None, Features] = None,
    bookable: Annotated[bool | None, Bookable] = None,
    check_in_required: Annotated[bool | None, CheckInRequired] = None,
    check_in_opens_minutes: Annotated[int | None, CheckInOpens] = None,
    auto_release_minutes: Annotated[int | None, AutoRelease] = None,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Change the given fields of a space; the others stay as they are."""
    changes = _given(
        description=description,
        time_zone=time_zone,
        preparation_minutes=preparation_minutes,
        cleanup_minutes=cleanup_minutes,
        capacity=capacity,
        building=building,
        floor=floor,
        features=features,
        bookable=bookable,
        check_in_required=check_in_required,
        check_in_opens_minutes=check_in_opens_minutes,
        auto_release_minutes=auto_release_minutes,
    )
    with database_for(database_url) as database:
        space = service.update_space(database, space_id, changes)
    typer.echo(f"updated space {space.id}")


@app.command("list")
def list_(
    json: Annotated[bool, Json] = False,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """List every space."""
    with database_for(database_url) as database:
        rows = [space_values(space) for space in service.list_spaces(database)]
    if json:
        print_json(rows)
    else:
        print_table(rows, COLUMNS)


@app.command("remove")
def remove(
    space_id: Annotated[str, SpaceId],
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Remove a space that no reservation names."""
    with database_for(database_url) as database:
        service.remove_space(database, space_id)
    typer.echo(f"removed space {space_id}")


@app.command("import")
def import_(
    path: Annotated[str, typer.Argument(help="A .csv or .json file, or - for standard input.")],
    file_format: Annotated[str | None, FormatOption] = None,
    progress: Annotated[bool | None, ShowProgress] = None,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Add or update spaces from a file: all of them, or none if a row is invalid."""
    with reporting_errors():
        text, fmt = read_input(path, file_format)
        records = read_records(text, fmt)
    with (
        database_for(database_url) as database,
        progress_bar("importing spaces", len(records), progress) as advance,
    ):
        result = service.import_spaces(database, records, advance)
    typer.echo(f"imported {len(records)} spaces: {result.added} added, {result.updated} updated")


@app.command("export")
def export(
    path: Annotated[
        str | None, typer.Argument(help="File to write (default: standard output).")
    ] = None,
    file_format: Annotated[str | None, FormatOption] = None,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Write every space as CSV or JSON, ready to edit and import again."""
    with reporting_errors():
        fmt = format_named(file_format or ("csv" if path in (None, "-") else None), path)
    with database_for(database_url) as database:
        text = service.export_spaces(database, fmt)
    write_output(text, path)
