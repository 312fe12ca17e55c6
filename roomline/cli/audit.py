"""``roomline audit list``: the audit trail of reservation writes."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from roomline.cli.common import Json, database_for, print_json, print_table, reporting_errors
from roomline.cli.options import DatabaseUrl, command_group
from roomline.services import audit

app = command_group("The audit trail of reservation writes.")

COLUMNS = (
    ("at", "AT"),
    ("action", "ACTION"),
    ("ultimo_id", "ULTIMO ID"),
    ("key_name", "KEY"),
    ("client_address", "CLIENT"),
    ("change", "CHANGE"),
)


@app.command("list")
def list_(
    json: Annotated[bool, Json] = False,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Only writes at or after this ISO 8601 time (UTC if no offset)."
        ),
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="Only writes made with the key of this name.")
    ] = None,
    ultimo_id: Annotated[
        str | None, typer.Option("--ultimo-id", help="Only writes to this reservation.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=audit.MAX_LIMIT, help="At most this many.")
    ] = 1000,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """List reservation writes, oldest first: who, from where, and the reservation before and after."""
    with reporting_errors():
        query = audit.AuditQuery(
            since=audit.parse_since(since),
            key_name=key,
            ultimo_id=audit.parse_ultimo_id(ultimo_id),
            limit=limit,
        )
    with database_for(database_url) as database:
        found = [audit.entry_json(entry) for entry in audit.entries(database, query)]
    if json:
        print_json(found)
        return
    print_table([{**entry, "change": describe(entry)} for entry in found], COLUMNS)


def describe(entry: dict[str, Any]) -> str:
    """Summarise a write in one line: what it made, or which facts it changed."""
    after = entry["after"]
    before = entry["before"]
    if before is None:
        return f"{after['space_id']} {after['start']} - {after['end']} for {after['applicant_id']}"
    changed = [name for name in after if after[name] != before.get(name)]
    return (
        ", ".join(f"{name}: {before.get(name)} -> {after[name]}" for name in changed) or "no change"
    )
