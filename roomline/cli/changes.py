"""``roomline changes list|follow``: the log of changes, read from the database."""

from __future__ import annotations

import json as json_module
import time
from typing import Annotated, Any

import typer

from roomline.cli.common import Json, database_for, print_json, print_table, reporting_errors
from roomline.cli.options import DatabaseUrl, command_group
from roomline.config import settings_from
from roomline.services.changes import (
    DEFAULT_PAGE,
    MAX_PAGE,
    ChangeLog,
    Retention,
    change_json,
    page_json,
    parse_cursor,
)
from roomline.services.clock import SharedClock
from roomline.storage.database import Database

app = command_group("The log of changes: every reservation created, changed or cancelled.")

COLUMNS = (
    ("cursor", "CURSOR"),
    ("at", "AT"),
    ("type", "TYPE"),
    ("ultimo_id", "ULTIMO ID"),
    ("space_id", "SPACE"),
    ("start", "START"),
    ("end", "END"),
    ("by", "BY"),
)
After = typer.Option("--after", help="The cursor to start after (the 'next' of an earlier list).")
Space = typer.Option("--space", help="Only changes of this space.")
# How often ``follow`` looks for new changes.
FOLLOW_INTERVAL_SECONDS = 0.5


@app.command("list")
def list_(
    json: Annotated[bool, Json] = False,
    after: Annotated[str | None, After] = None,
    space: Annotated[str | None, Space] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=MAX_PAGE, help="At most this many.")
    ] = DEFAULT_PAGE,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """List changes oldest first, and the cursor to go on from (--after NEXT)."""
    with reporting_errors():
        cursor = parse_cursor("--after", after)
    with database_for(database_url) as database, reporting_errors():
        page = change_log(database, database_url).page(cursor, space, limit)
    if json:
        print_json(page_json(page))
        return
    print_table([_row(change_json(change)) for change in page.changes], COLUMNS)
    typer.echo(f"next: {page.next}")


@app.command("follow")
def follow(
    after: Annotated[str | None, After] = None,
    space: Annotated[str | None, Space] = None,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Print each change as one JSON line as it is committed, until interrupted
    (without --after: from the next change on)."""
    with reporting_errors():
        cursor = parse_cursor("--after", after)
    with database_for(database_url) as database, reporting_errors():
        log = change_log(database, database_url)
        if cursor is None:
            cursor = log.latest()
        try:
            while True:
                page = log.page(cursor, space, MAX_PAGE)
                for change in page.changes:
                    typer.echo(json_line(change_json(change)))  # echo flushes: pipes see it now
                cursor = page.next
                if not page.changes:
                    time.sleep(FOLLOW_INTERVAL_SECONDS)
        except KeyboardInterrupt:
            return


def change_log(database: Database, database_url: str | None) -> ChangeLog:
    settings = settings_from(database_url=database_url)
    # The shared clock is the system clock unless the database holds a demo clock.
    return ChangeLog(
        database,
        SharedClock(),
        settings.default_time_zone,
        Retention(settings.event_retention_days, settings.audit_retention_days),
    )


def json_line(value: Any) -> str:
    return json_module.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _row(event: dict[str, object]) -> dict[str, object]:
    reservation = event["reservation"]
    by = event["by"]
    assert isinstance(reservation, dict) and isinstance(by, dict)
    return {
        "cursor": event["cursor"],
        "at": event["at"],
        "type": event["type"],
        "ultimo_id": reservation["ultimo_id"],
        "space_id": reservation["space_id"],
        "start": reservation["start"],
        "end": reservation["end"],
        "by": by["key_name"] or by["via"] or "",
    }
