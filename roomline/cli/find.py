"""``roomline find``: free spaces over a window, or suggested slots, on the configured
database (the same service as ``/api/booking/free-spaces`` and ``/suggestions``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer

from roomline.cli.common import Json, database_for, fail, print_json, print_table
from roomline.cli.options import DatabaseUrl
from roomline.config import settings_from
from roomline.services import availability
from roomline.services.clock import SharedClock
from roomline.services.reservations import Policy, ReservationService

TIME_HELP = "ISO 8601 with an offset or Z; without one, wall-clock time in each space's zone"
SPACE_COLUMNS = (
    ("space_id", "SPACE"),
    ("description", "DESCRIPTION"),
    ("building", "BUILDING"),
    ("floor", "FLOOR"),
    ("capacity", "CAPACITY"),
    ("features", "FEATURES"),
    ("time_zone", "TIME ZONE"),
)
SLOT_COLUMNS = (("space_id", "SPACE"), ("start", "START"), ("end", "END"))


def find(
    start: Annotated[str | None, typer.Option("--start", help=f"Free from: {TIME_HELP}.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Free until (exclusive).")] = None,
    duration: Annotated[
        int | None, typer.Option("--duration", help="Suggest slots of this many minutes.")
    ] = None,
    earliest: Annotated[
        str | None, typer.Option("--earliest", help="Suggested slots start at or after this.")
    ] = None,
    latest: Annotated[
        str | None, typer.Option("--latest", help="Suggested slots end at or before this.")
    ] = None,
    step: Annotated[int, typer.Option("--step", help="Minutes between suggested starts.")] = 15,
    capacity: Annotated[
        int | None, typer.Option("--capacity", help="At least this many seats.")
    ] = None,
    features: Annotated[
        str | None, typer.Option("--features", help="Tags all required, e.g. projector,video.")
    ] = None,
    building: Annotated[str | None, typer.Option("--building", help="In this building.")] = None,
    floor: Annotated[str | None, typer.Option("--floor", help="On this floor.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many.")] = None,
    json: Annotated[bool, Json] = False,
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Find a room: free spaces over [--start, --end), smallest fitting first; or, with
    --duration, --earliest and --latest, the first free slots."""
    suggesting = duration is not None
    if suggesting and (earliest is None or latest is None or start or end):
        fail("--duration needs --earliest and --latest (and no --start or --end).")
    if not suggesting and (start is None or end is None or earliest or latest):
        fail("Give --start and --end, or --duration with --earliest and --latest.")
    with database_for(database_url) as database:
        settings = settings_from(database_url=database_url)
        policy = Policy(
            start_grace=timedelta(minutes=settings.start_grace_minutes),
            max_window=timedelta(days=settings.max_window_days),
            default_zone=settings.default_time_zone,
        )
        # The shared clock is the system clock unless the database holds a demo clock.
        service = ReservationService(database, SharedClock(), policy)
        wanted = availability.space_filter(capacity, features, building, floor)
        rows: list[dict[str, Any]]
        if suggesting:
            assert duration is not None and earliest is not None and latest is not None
            slots = service.read_here(
                lambda path: availability.suggestions(
                    path,
                    policy,
                    wanted,
                    duration,
                    earliest,
                    latest,
                    step,
                    limit or availability.DEFAULT_SUGGESTIONS,
                )
            )
            rows = [availability.slot_values(slot) for slot in slots]
        else:
            assert start is not None and end is not None
            found = service.read_here(
                lambda path: availability.free_spaces(path, policy, wanted, start, end, limit)
            )
            rows = [availability.free_space_values(space, zone.key) for space, zone in found]
    if json:
        print_json(rows)
    elif not rows:
        typer.echo("no free space matches" if not suggesting else "no free slot matches")
    else:
        print_table(rows, SLOT_COLUMNS if suggesting else SPACE_COLUMNS)
