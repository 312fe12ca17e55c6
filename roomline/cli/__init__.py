"""The ``roomline`` command."""

from __future__ import annotations

import typer

from roomline.cli import (
    audit,
    call,
    changes,
    db,
    feeds,
    find,
    keys,
    people,
    report,
    reservations,
    series,
    server,
    spaces,
    webhooks,
)

app = typer.Typer(
    name="roomline",
    help="Self-hosted room reservation server speaking Ultimo's Reservations API.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain help, as options.command_group explains
)
app.command("serve", short_help="Run the server (default database: ./roomline.db).")(server.serve)
app.command("demo", short_help="Run the server with the demo data.")(server.demo)
app.add_typer(db.app, name="db")
app.add_typer(spaces.app, name="spaces")
app.add_typer(people.app, name="people")
app.add_typer(keys.app, name="keys")
app.add_typer(feeds.app, name="feeds")
app.add_typer(reservations.app, name="reservations")
app.add_typer(
    series.app, name="series", short_help="Recurring reservations: create, show, change, cancel."
)
app.add_typer(call.app, name="call", short_help="Call the Ultimo workflows of any server.")
app.add_typer(audit.app, name="audit")
app.add_typer(changes.app, name="changes", short_help="The log of changes: list or follow it.")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(report.app, name="report")
app.command("find")(find.find)


def main() -> None:
    app()
