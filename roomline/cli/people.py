"""``roomline people``: add, update, list, remove, import and export applicants."""

from __future__ import annotations

from typing import Annotated

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
from roomline.cli.spaces import FormatOption, ShowProgress
from roomline.domain.masterdata import person_values
from roomline.services import people as service
from roomline.services.transfer import format_named, read_records

app = command_group("People who reserve spaces (applicants).")

PersonId = typer.Argument(help="The person's id, as clients send it in ApplicantId.")
Name = typer.Option("--name", help="As Get shows it in ApplicantName, e.g. 'Fasse, J.'.")
COLUMNS = (("id", "ID"), ("name", "NAME"))


@app.command("add")
def add(
    person_id: Annotated[str, PersonId],
    name: Annotated[str, Name] = "",
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Add a person."""
    with database_for(database_url) as database:
        person = service.add_person(database, {"id": person_id, "name": name})
    typer.echo(f"added person {person.id}")


@app.command("update")
def update(
    person_id: Annotated[str, PersonId],
    name: Annotated[str, Name],
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Change a person's name."""
    with database_for(database_url) as database:
        person = service.update_person(database, person_id, {"name": name})
    typer.echo(f"updated person {person.id}")


@app.command("list")
def list_(
    json: Annotated[bool, Json] = False,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """List every person."""
    with database_for(database_url) as database:
        rows = [person_values(person) for person in service.list_people(database)]
    if json:
        print_json(rows)
    else:
        print_table(rows, COLUMNS)


@app.command("remove")
def remove(
    person_id: Annotated[str, PersonId],
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Remove a person that no reservation names."""
    with database_for(database_url) as database:
        service.remove_person(database, person_id)
    typer.echo(f"removed person {person_id}")


@app.command("import")
def import_(
    path: Annotated[str, typer.Argument(help="A .csv or .json file, or - for standard input.")],
    file_format: Annotated[str | None, FormatOption] = None,
    progress: Annotated[bool | None, ShowProgress] = None,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Add or update people from a file: all of them, or none if a row is invalid."""
    with reporting_errors():
        text, fmt = read_input(path, file_format)
        records = read_records(text, fmt)
    with (
        database_for(database_url) as database,
        progress_bar("importing people", len(records), progress) as advance,
    ):
        result = service.import_people(database, records, advance)
    typer.echo(f"imported {len(records)} people: {result.added} added, {result.updated} updated")


@app.command("export")
def export(
    path: Annotated[
        str | None, typer.Argument(help="File to write (default: standard output).")
    ] = None,
    file_format: Annotated[str | None, FormatOption] = None,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Write every person as CSV or JSON, ready to edit and import again."""
    with reporting_errors():
        fmt = format_named(file_format or ("csv" if path in (None, "-") else None), path)
    with database_for(database_url) as database:
        text = service.export_people(database, fmt)
    write_output(text, path)
