"""Options shared by several commands. Each defaults to None: "not given, ask Settings"."""

from __future__ import annotations

import typer


def command_group(help: str) -> typer.Typer:
    """Return a group of ``roomline`` commands.

    Its help is click's plain text rather than rich's boxes: it wraps between words at any
    width (80 columns too) and never cuts an example or a default off mid-word, and
    ``[env: …]`` shows as written (rich takes square brackets for markup and drops them).
    """
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None)


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
UltimoQuotas = typer.Option(
    "--ultimo-quotas/--no-ultimo-quotas",
    help="Apply Ultimo's documented quotas: 100 requests per 10 seconds and 10,000 per day "
    "for all keys combined, 1 MB per request [env: ROOMLINE_ULTIMO_QUOTAS]",
    show_default=False,
)
RedisUrl = typer.Option(
    "--redis-url",
    help="Count request limits in this Redis (redis://host:6379/0) instead of the database "
    "[env: ROOMLINE_REDIS_URL]",
    show_default=False,
)
AccessLog = typer.Option(
    "--access-log/--no-access-log",
    help="Log one line per request [env: ROOMLINE_ACCESS_LOG; default on]",
    show_default=False,
)
