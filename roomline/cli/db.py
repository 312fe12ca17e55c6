"""``roomline db``: schema migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from roomline.cli.common import database_for
from roomline.cli.options import DatabaseUrl, command_group

app = command_group("Database schema migrations.")


@app.command("upgrade")
def upgrade(database_url: Annotated[str | None, DatabaseUrl] = None) -> None:
    """Migrate the database to the newest schema."""
    with database_for(database_url):
        pass  # opening it migrates it
    typer.echo("database is up to date")
