"""``roomline keys``: create (the secret is printed once), list and revoke API keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from roomline.cli.common import Json, database_for, print_json, print_table
from roomline.cli.options import DatabaseUrl, command_group
from roomline.services import api_keys as service

app = command_group("API keys for the Ultimo workflows.")

KeyName = typer.Option("--name", help="A unique name, e.g. the panel or system using the key.")
COLUMNS = (
    ("name", "NAME"),
    ("status", "STATUS"),
    ("workflows", "WORKFLOWS"),
    ("ip_allow", "IP ALLOW"),
    ("daily_quota", "DAILY QUOTA"),
    ("created_at", "CREATED"),
    ("revoked_at", "REVOKED"),
)


@app.command("create")
def create(
    name: Annotated[str, KeyName],
    workflows: Annotated[
        list[str] | None,
        typer.Option(
            "--workflows",
            help="Workflows and operations the key may call, comma-separated or repeated: "
            "create, update, cancel, get (or full names such as REST_CreateReservation), "
            "and roomline's own series, find. Default: all, including operations added "
            "later.",
        ),
    ] = None,
    ip_allow: Annotated[
        str | None,
        typer.Option(
            "--ip-allow",
            help="Addresses the key may be used from: ranges a-b or single addresses "
            "joined by ';', IPv4 or IPv6. Default: any.",
        ),
    ] = None,
    daily_quota: Annotated[
        int | None, typer.Option("--daily-quota", help="Requests per day. Default: no quota.")
    ] = None,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Create a key and print its secret, alone on the last line; it is not shown again."""
    with database_for(database_url) as database:
        created = service.create_key(
            database,
            name=name,
            now=datetime.now(UTC),
            workflows=workflows,
            ip_allow=ip_allow,
            daily_quota=daily_quota,
        )
    values = service.key_values(created.key)
    allowed = ", ".join(values["workflows"]) if values["workflows"] else "all"
    typer.echo(f"created API key {created.key.name!r}")
    typer.echo(f"workflows: {allowed}")
    typer.echo(f"ip allow: {values['ip_allow'] or 'any address'}")
    typer.echo(f"daily quota: {values['daily_quota'] or 'none'}")
    typer.echo("secret (shown only now; send it as the ApiKey header):")
    typer.echo(created.secret)


@app.command("list")
def list_(
    json: Annotated[bool, Json] = False,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """List keys, active and revoked; secrets are never stored, so never shown."""
    with database_for(database_url) as database:
        rows = [service.key_values(key) for key in service.list_keys(database)]
    if json:
        print_json(rows)
    else:
        print_table(rows, COLUMNS)


@app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The key's name.")],
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Revoke a key: it stops working at once and cannot be restored."""
    with database_for(database_url) as database:
        key = service.revoke_key(database, name, datetime.now(UTC))
    typer.echo(f"revoked API key {key.name!r}")
