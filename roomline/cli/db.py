"""``roomline db``: schema migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from roomline.cli.options import DatabaseUrl
from roomline.config import settings_from
from roomline.storage.database import Database
from roomline.storage.migrate import upgrade as run_upgrade

app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(database_url: Annotated[str | None, DatabaseUrl] = None) -> None:
    """Migrate the database to the newest schema."""
    settings = settings_from(database_url=database_url)
    database = Database(settings.database_url)
    try:
        run_upgrade(database)
    finally:
        database.dispose()
    typer.echo("database is up to date")
