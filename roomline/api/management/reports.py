"""``GET /api/manage/reports/utilisation``: how the rooms were used (docs/reports.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from roomline.api.management.common import database, database_errors
from roomline.services import reports
from roomline.storage.database import Database

router = APIRouter(prefix="/reports")
Db = Annotated[Database, Depends(database)]

EXAMPLE_ROW = {
    "space": "C-25",
    "building": "North",
    "floor": "2",
    "spaces": 1,
    "working_hours": 50.0,
    "booked_hours": 12.5,
    "preparation_cleanup_hours": 1.25,
    "occupancy_percent": 25.0,
    "occupancy_with_preparation_cleanup_percent": 27.5,
    "reservations": 9,
    "cancelled": 2,
    "late_cancelled": 1,
    "released": 1,
    "check_in_tracked": 4,
    "no_show_rate_percent": 25.0,
    "average_length_minutes": 107.1,
    "average_lead_hours": 52.3,
    "peak_hour": "Tue 10:00",
    "capacity_1_4": 0,
    "capacity_5_8": 7,
    "capacity_9_16": 0,
    "capacity_17_40": 0,
    "capacity_41_up": 0,
    "capacity_unknown": 0,
}
EXAMPLE_TOTAL = {
    key: value for key, value in EXAMPLE_ROW.items() if key not in ("space", "building", "floor")
}
EXAMPLE = {
    "from": "2030-01-07",
    "till": "2030-01-14",
    "group": "space",
    "working_hours": "mon-fri 08:00-18:00",
    "rows": [EXAMPLE_ROW],
    "total": EXAMPLE_TOTAL,
    "busy_hours": {"Mon": [0.0] * 9 + [1.5, 2.0] + [0.0] * 13, "...": "one list of 24 per day"},
    "weeks": [{"week": "2030-01-07", "reservations": 9, "late_cancelled": 1, "released": 1}],
}
EXAMPLE_CSV = (
    ",".join(reports.csv_columns("space"))
    + "\nC-25,North,2,1,50.0,12.5,1.25,25.0,27.5,9,2,1,1,4,25.0,107.1,52.3,Tue 10:00,0,7,0,0,0,0"
    + "\nall,,,1,50.0,12.5,1.25,25.0,27.5,9,2,1,1,4,25.0,107.1,52.3,Tue 10:00,0,7,0,0,0,0\n"
)


@router.get(
    "/utilisation",
    summary="Report how the rooms were used.",
    responses={
        200: {
            "description": "The figures per space, floor or building, and in all.",
            "content": {
                "application/json": {"example": EXAMPLE},
                "text/csv": {"example": EXAMPLE_CSV},
            },
        }
    },
)
async def utilisation(
    request: Request,
    db: Db,
    from_day: Annotated[
        str,
        Query(
            alias="from",
            description="The first day, yyyy-mm-dd, in each space's own zone.",
            examples=["2030-01-01"],
        ),
    ],
    till_day: Annotated[
        str,
        Query(
            alias="till",
            description="The day after the last (not included), yyyy-mm-dd.",
            examples=["2030-04-01"],
        ),
    ],
    group: Annotated[
        str, Query(description="Rows per space (default), floor or building.")
    ] = "space",
    format: Annotated[str, Query(description="json (default) or csv.")] = "json",
) -> Any:
    """Return booked hours and occupancy within working hours, cancellations, releases,
    lengths, lead times, the peak hour and capacity bands over [from, till)."""
    chosen = reports.parse_format(format)
    settings = request.app.state.settings
    with database_errors():
        report = await run_in_threadpool(
            reports.utilisation_report,
            db,
            settings.working_hours,
            settings.default_time_zone,
            from_day,
            till_day,
            group,
        )
    if chosen == "csv":
        name = f"utilisation-{report.first}-{report.till}-{report.group}.csv"
        return Response(
            reports.report_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return reports.report_json(report)
