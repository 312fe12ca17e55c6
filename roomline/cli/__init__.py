"""The ``roomline`` command."""

from __future__ import annotations

import typer

from roomline.cli import audit, call, db, find, keys, people, reservations, server, spaces

app = typer.Typer(
    name="roomline",
    help="Self-hosted room reservation server speaking Ultimo's Reservations API.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("serve")(server.serve)
app.command("demo")(server.demo)
app.add_typer(db.app, name="db")
app.add_typer(spaces.app, name="spaces")
app.add_typer(people.app, name="people")
app.add_typer(keys.app, name="keys")
app.add_typer(reservations.app, name="reservations")
app.add_typer(call.app, name="call")
app.add_typer(audit.app, name="audit")
app.command("find")(find.find)


def main() -> None:
    app()
