"""The ``roomline`` command."""

from __future__ import annotations

import typer

from roomline.cli import db, server

app = typer.Typer(
    name="roomline",
    help="Self-hosted room reservation server speaking Ultimo's Reservations API.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("serve")(server.serve)
app.command("demo")(server.demo)
app.add_typer(db.app, name="db")


def main() -> None:
    app()
