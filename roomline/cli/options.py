"""Options shared by several commands. Each defaults to None: "not given, ask Settings"."""

from __future__ import annotations

import typer

DatabaseUrl = typer.Option(
    "--database-url",
    help="SQLAlchemy URL, e.g. sqlite:///roomline.db or postgresql://user@host/db "
    "[env: ROOMLINE_DATABASE_URL]",
    show_default=False,
)
Host = typer.Option("--host", help="Address to listen on [env: ROOMLINE_HOST; default 127.0.0.1]")
Port = typer.Option("--port", help="Port to listen on [env: ROOMLINE_PORT; default 8000]")
Workers = typer.Option(
    "--workers", help="Worker processes [env: ROOMLINE_WORKERS; default 1]", min=1
)
