"""``roomline feeds``: create (the secret URL is printed once), list and revoke calendar feeds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from roomline.cli.common import Json, database_for, print_json, print_table, reporting_errors
from roomline.cli.options import DatabaseUrl, command_group
from roomline.config import settings_from
from roomline.services import feeds as service

app = command_group("Calendar feeds: secret .ics URLs of a space's or a person's reservations.")

COLUMNS = (
    ("id", "ID"),
    ("scope", "SCOPE"),
    ("for", "FOR"),
    ("name", "NAME"),
    ("status", "STATUS"),
    ("created_at", "CREATED"),
    ("revoked_at", "REVOKED"),
)


@app.command("create")
def create(
    space: Annotated[
        str | None, typer.Option("--space", help="The feed shows this space's reservations.")
    ] = None,
    applicant: Annotated[
        str | None,
        typer.Option("--applicant", help="The feed shows this person's reservations."),
    ] = None,
    name: Annotated[
        str, typer.Option("--name", help="A label for the list, e.g. who subscribes.")
    ] = "",
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            help="Where people reach the server, e.g. https://rooms.example.com, to print "
            "the whole URL [env: ROOMLINE_PUBLIC_URL]; without it only the path is printed.",
            show_default=False,
        ),
    ] = None,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Create a feed and print its secret URL, alone on the last line; it is not shown
    again."""
    with reporting_errors():
        base_url = settings_from(public_url=public_url).public_url
    with database_for(database_url) as database:
        created = service.create_feed(
            database, now=datetime.now(UTC), space_id=space, applicant_id=applicant, name=name
        )
    values = service.created_values(created, base_url)
    typer.echo(f"created calendar feed {created.feed.id} for {_scope_text(values)}")
    if values["webcal_url"]:
        typer.echo(f"subscribe with a click: {values['webcal_url']}")
    else:
        typer.echo("put the server's address before the path (--public-url or ROOMLINE_PUBLIC_URL)")
    typer.echo("URL (shown only now; paste it into Outlook, Google or Apple Calendar):")
    typer.echo(values["url"])


@app.command("list")
def list_(
    space: Annotated[str | None, typer.Option("--space", help="Only this space's feeds.")] = None,
    json: Annotated[bool, Json] = False,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """List feeds, active and revoked; their URLs are never stored, so never shown."""
    with database_for(database_url) as database:
        rows = [service.feed_values(feed) for feed in service.list_feeds(database, space)]
    if json:
        print_json(rows)
    else:
        print_table(
            [{**row, "for": row["space_id"] or row["applicant_id"]} for row in rows], COLUMNS
        )


@app.command("revoke")
def revoke(
    feed_id: Annotated[int, typer.Argument(metavar="ID", help="The feed's id, as list shows.")],
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Revoke a feed: its URL answers 404 at once and cannot be restored."""
    with database_for(database_url) as database:
        feed = service.revoke_feed(database, feed_id, datetime.now(UTC))
    typer.echo(f"revoked calendar feed {feed.id} ({_scope_text(service.feed_values(feed))})")


def _scope_text(values: dict[str, object]) -> str:
    if values["scope"] == "space":
        return f"space {values['space_id']}"
    return f"applicant {values['applicant_id']}"
