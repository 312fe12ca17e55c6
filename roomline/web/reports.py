"""The "Reports" page: utilisation over a period, with charts drawn here as inline SVG.

No chart library and no script: the server computes every bar and cell (this module
only places them), so the page works offline and prints. The figures are those of
``GET /api/manage/reports/utilisation``; the CSV link downloads the same report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from roomline.api.errors import status_for
from roomline.domain.errors import RoomlineError
from roomline.services import reports
from roomline.web.blocking import run
from roomline.web.pages import database, render, web_zone
from roomline.web.session import require_signed_in

router = APIRouter(dependencies=[Depends(require_signed_in)], include_in_schema=False)
DEFAULT_WEEKS = 4
BAR_HEIGHT = 22
LABEL_WIDTH = 190
CHART_WIDTH = 760


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    y: int
    booked: float  # width in chart units of the reservations' share
    margins: float  # width of preparation and cleanup after it
    occupancy: float | None
    with_margins: float | None


@dataclass(frozen=True, slots=True)
class Cell:
    day: str
    hour: int
    hours: float
    shade: float  # 0..1 of the busiest hour


@dataclass(frozen=True, slots=True)
class WeekBars:
    week: str
    x: float
    late: float  # bar heights in chart units
    released: float
    late_count: int
    released_count: int


@router.get("/web/reports", response_class=HTMLResponse)
async def reports_page(
    request: Request,
    from_day: str = Query("", alias="from"),
    till_day: str = Query("", alias="till"),
    group: str = "space",
) -> Response:
    """Show utilisation over a period: occupancy bars, a week-by-hour heat map, trends."""
    first, till = await _default_period(request, from_day, till_day)
    form = {"from": first, "till": till, "group": group}
    try:
        report = await _report(request, first, till, group)
    except RoomlineError as exc:
        return render(request, "reports.html", status=status_for(exc), form=form, error=exc)
    body = reports.report_json(report)
    return render(
        request,
        "reports.html",
        form=form,
        error=None,
        body=body,
        key_columns=reports.KEY_COLUMNS[report.group],
        bars=occupancy_bars(body["rows"], reports.KEY_COLUMNS[report.group]),
        chart_width=CHART_WIDTH,
        label_width=LABEL_WIDTH,
        bar_height=BAR_HEIGHT,
        cells=heat_cells(body["busy_hours"]),
        weeks=week_bars(body["weeks"]),
        csv_url=f"/web/reports.csv?{request.url.query}",
    )


@router.get("/web/reports.csv")
async def reports_csv(
    request: Request,
    from_day: str = Query("", alias="from"),
    till_day: str = Query("", alias="till"),
    group: str = "space",
) -> Response:
    """Download the page's report as CSV."""
    first, till = await _default_period(request, from_day, till_day)
    try:
        report = await _report(request, first, till, group)
    except RoomlineError as exc:
        return render(request, "problem.html", status=status_for(exc), error=exc)
    name = f"utilisation-{report.first}-{report.till}-{report.group}.csv"
    return Response(
        reports.report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _default_period(request: Request, first: str, till: str) -> tuple[str, str]:
    """The form's period; by default the last four whole weeks, Monday to Monday."""
    if first and till:
        return first, till
    clock = request.app.state.clock

    def today() -> date:
        with database(request).read() as conn:
            return clock.now(conn).astimezone(web_zone(request)).date()

    day = await run(today)
    monday = day - timedelta(days=day.weekday())
    return (
        first or (monday - timedelta(weeks=DEFAULT_WEEKS)).isoformat(),
        till or monday.isoformat(),
    )


async def _report(request: Request, first: str, till: str, group: str) -> reports.Report:
    settings = request.app.state.settings
    return await run(
        reports.utilisation_report,
        database(request),
        settings.working_hours,
        settings.default_time_zone,
        first,
        till,
        group,
    )


def occupancy_bars(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> list[Bar]:
    """One bar per row: its occupancy of the working hours, preparation and cleanup after."""
    width = CHART_WIDTH - LABEL_WIDTH - 60
    named_by = ("space",) if "space" in keys else keys  # a space's id says enough
    bars = []
    for index, row in enumerate(rows):
        booked = min(100.0, row["occupancy_percent"] or 0.0)
        total = min(100.0, row["occupancy_with_preparation_cleanup_percent"] or 0.0)
        bars.append(
            Bar(
                label=" / ".join(row[key] or "—" for key in named_by),
                y=index * BAR_HEIGHT,
                booked=round(booked / 100 * width, 2),
                margins=round(max(0.0, total - booked) / 100 * width, 2),
                occupancy=row["occupancy_percent"],
                with_margins=row["occupancy_with_preparation_cleanup_percent"],
            )
        )
    return bars


def heat_cells(busy: dict[str, list[float]]) -> list[Cell]:
    """The 7 × 24 cells of the week-by-hour heat map, shaded by busy hours."""
    most = max((hours for day in busy.values() for hours in day), default=0.0)
    return [
        Cell(day, hour, hours, round(hours / most, 3) if most else 0.0)
        for day, by_hour in busy.items()
        for hour, hours in enumerate(by_hour)
    ]


def week_bars(weeks: list[dict[str, Any]]) -> list[WeekBars]:
    """Two bars a week: late cancellations and releases (no-shows)."""
    most = max((max(week["late_cancelled"], week["released"]) for week in weeks), default=0)
    step = (CHART_WIDTH - 60) / max(1, len(weeks))
    scale = 150 / most if most else 0.0
    return [
        WeekBars(
            week=week["week"],
            x=round(50 + index * step, 2),
            late=round(week["late_cancelled"] * scale, 2),
            released=round(week["released"] * scale, 2),
            late_count=week["late_cancelled"],
            released_count=week["released"],
        )
        for index, week in enumerate(weeks)
    ]
