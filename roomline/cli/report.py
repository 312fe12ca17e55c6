"""``roomline report utilisation``: how the rooms were used, on the configured database
(the same service as ``GET /api/manage/reports/utilisation``)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from roomline.cli.common import database_for, print_json, reporting_errors
from roomline.cli.options import DatabaseUrl, command_group
from roomline.config import settings_from
from roomline.services import reports

app = command_group("Reports: how the rooms were used.")

# The table shows the figures a person scans; JSON and CSV have every figure.
TABLE_COLUMNS = (
    ("spaces", "Spaces"),
    ("booked_hours", "Booked h"),
    ("occupancy_percent", "Occupancy %"),
    ("occupancy_with_preparation_cleanup_percent", "With prep/cleanup %"),
    ("reservations", "Reservations"),
    ("cancelled", "Cancelled"),
    ("late_cancelled", "Late (<24 h)"),
    ("released", "Released"),
    ("no_show_rate_percent", "No-show %"),
    ("average_length_minutes", "Avg min"),
    ("average_lead_hours", "Lead h"),
    ("peak_hour", "Peak hour"),
)


@app.command("utilisation")
def utilisation(
    from_day: Annotated[
        str, typer.Option("--from", help="The first day, yyyy-mm-dd, in each space's zone.")
    ],
    till_day: Annotated[
        str, typer.Option("--till", help="The day after the last (not included), yyyy-mm-dd.")
    ],
    group: Annotated[
        str, typer.Option("--group", help="Rows per space, floor or building.")
    ] = "space",
    format: Annotated[
        str, typer.Option("--format", help="table (for people), json or csv.")
    ] = "table",
    database_url: Annotated[str | None, DatabaseUrl] = None,
) -> None:
    """Booked hours and occupancy within working hours (ROOMLINE_WORKING_HOURS),
    cancellations, releases, lengths, lead times and the peak hour over [from, till)."""
    with reporting_errors():
        chosen = reports.parse_format(format, ("table", *reports.FORMATS))
        settings = settings_from(database_url=database_url)
    with database_for(database_url) as database, reporting_errors():
        report = reports.utilisation_report(
            database,
            settings.working_hours,
            settings.default_time_zone,
            from_day,
            till_day,
            group,
        )
    if chosen == "json":
        print_json(reports.report_json(report))
    elif chosen == "csv":
        sys.stdout.write(reports.report_csv(report))
    else:
        print_report(report)


def print_report(report: reports.Report) -> None:
    """Print the report as a table: one row per group, then the total."""
    body = reports.report_json(report)
    keys = reports.KEY_COLUMNS[report.group]
    table = Table(
        title=f"Utilisation {body['from']} to {body['till']} (not included), "
        f"working hours {body['working_hours']}",
        title_justify="left",
    )
    for key in keys:
        table.add_column(key.capitalize())
    for _, heading in TABLE_COLUMNS:
        table.add_column(heading, justify="right")
    for row in body["rows"]:
        table.add_row(*[_cell(row[key]) for key in keys], *_figures(row))
    table.add_section()
    table.add_row("all", *[""] * (len(keys) - 1), *_figures(body["total"]))
    Console(width=max(160, Console().width)).print(table)


def _figures(row: dict[str, object]) -> list[str]:
    return [_cell(row[name]) for name, _ in TABLE_COLUMNS]


def _cell(value: object) -> str:
    return "-" if value is None else str(value)
