"""Utilisation reports through the real server, API and CLI, with figures worked out by
hand on a small building (docs/reports.md defines each figure).

Building "R", Europe/Amsterdam, working hours Monday–Friday 08:00–18:00 and Sunday
10:00–12:00, over the week of Monday 25 March 2030, which ends with the switch to summer
time (Sunday 31 March, 02:00 → 03:00). All reservations are booked at 2030-03-20 12:00Z.

Space A (floor 1, 6 seats, 15 min preparation and cleanup):
  1. Mon 09:00–11:00       2 h booked, 0.5 h preparation/cleanup, lead 116 h
  2. Tue 17:00–19:00       crosses 18:00: 1 h booked, 0.25 h preparation, lead 148 h
  3. Sun 10:00–11:00 CEST  after the switch: 1 h booked, 0.25 h cleanup, lead 260 h
  4. Wed 09:00–10:00       cancelled at Tue 13:00 (20 h before): late
Space B (floor 2, 20 seats, no preparation or cleanup):
  5. Thu 14:00–16:00       cancelled a week before: not late
  6. Fri 10:00–11:00       released at 10:15 (a no-show): the door cancels it, no hours
  7. Fri 13:00–14:00       checked in, lead 216 h
Working hours: 5 × 10 h + 2 h = 52 h per space, although the week has 167 hours.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from roomline.storage.database import Database
from tests.conftest import TEST_NOW, World, door_event
from tests.support import Server, roomline, start_server

HOURS = "mon-fri 08:00-18:00; sun 10:00-12:00"
PERIOD = {"from": "2030-03-25", "till": "2030-04-01"}
BOOKED_AT = "2030-03-20T12:00:00Z"

SPACE_A = {
    "spaces": 1,
    "working_hours": 52.0,
    "booked_hours": 4.0,
    "preparation_cleanup_hours": 1.0,
    "occupancy_percent": 7.7,
    "occupancy_with_preparation_cleanup_percent": 9.6,
    "reservations": 4,
    "cancelled": 1,
    "late_cancelled": 1,
    "released": 0,
    "check_in_tracked": 0,
    "no_show_rate_percent": None,
    "average_length_minutes": 100.0,
    "average_lead_hours": 174.7,
    "peak_hour": "Mon 09:00",
    "capacity_1_4": 0,
    "capacity_5_8": 3,
    "capacity_9_16": 0,
    "capacity_17_40": 0,
    "capacity_41_up": 0,
    "capacity_unknown": 0,
}
SPACE_B = {
    **SPACE_A,
    "booked_hours": 1.0,
    "preparation_cleanup_hours": 0.0,
    "occupancy_percent": 1.9,
    "occupancy_with_preparation_cleanup_percent": 1.9,
    "reservations": 3,
    "cancelled": 1,
    "late_cancelled": 0,
    "released": 1,
    "check_in_tracked": 2,
    "no_show_rate_percent": 50.0,
    "average_length_minutes": 60.0,
    "average_lead_hours": 216.0,
    "peak_hour": "Fri 13:00",
    "capacity_5_8": 0,
    "capacity_17_40": 1,
}
BUILDING = {
    **SPACE_A,
    "spaces": 2,
    "working_hours": 104.0,
    "booked_hours": 5.0,
    "preparation_cleanup_hours": 1.0,
    "occupancy_percent": 4.8,
    "occupancy_with_preparation_cleanup_percent": 5.8,
    "reservations": 7,
    "cancelled": 2,
    "late_cancelled": 1,
    "released": 1,
    "check_in_tracked": 2,
    "no_show_rate_percent": 50.0,
    "average_length_minutes": 90.0,
    "average_lead_hours": 185.0,
    "peak_hour": "Mon 09:00",
    "capacity_5_8": 3,
    "capacity_17_40": 1,
}


@pytest.fixture(scope="module")
def report_server(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    running = start_server(
        module_database_url,
        tmp_path_factory.mktemp("logs"),
        "--now",
        TEST_NOW,
        env={"ROOMLINE_WORKING_HOURS": HOURS},
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def building(report_server: Server) -> Iterator[dict[str, str]]:
    """Book the week described above; return the spaces' ids."""
    database = Database(report_server.database_url)
    world = World(database, itertools.count(1))
    space_a = world.space(prep=15, cleanup=15, capacity=6, building="R", floor="1")
    space_b = world.space(capacity=20, building="R", floor="2")
    person = world.person()
    report_server.set_clock(BOOKED_AT)

    def book(space: str, start: str, end: str) -> int:
        body = {"SpaceId": space, "ApplicantId": person.id, "StartTime": start, "EndTime": end}
        response = report_server.call("REST_CreateReservation", body)
        assert response.status_code == 200, response.text
        return int(response.json()["Properties"]["UltimoId"])

    book(space_a.id, "2030-03-25 09:00:00", "2030-03-25 11:00:00")
    book(space_a.id, "2030-03-26 17:00:00", "2030-03-26 19:00:00")
    book(space_a.id, "2030-03-31 10:00:00", "2030-03-31 11:00:00")
    late = book(space_a.id, "2030-03-27 09:00:00", "2030-03-27 10:00:00")
    early = book(space_b.id, "2030-03-28 14:00:00", "2030-03-28 16:00:00")
    released = book(space_b.id, "2030-03-29 10:00:00", "2030-03-29 11:00:00")
    checked_in = book(space_b.id, "2030-03-29 13:00:00", "2030-03-29 14:00:00")
    for at, ultimo_id in (("2030-03-21T12:00:00Z", early), ("2030-03-26T12:00:00Z", late)):
        report_server.set_clock(at)
        cancelled = report_server.call("REST_CancelReservation", {"UltimoId": f"{ultimo_id:011d}"})
        assert cancelled.status_code == 200, cancelled.text
    # Check-in and release come from the door; recorded here as it records them.
    with database.write() as conn:
        door_event(conn, released, "release", datetime(2030, 3, 29, 9, 15, tzinfo=UTC))
        door_event(conn, checked_in, "check_in", datetime(2030, 3, 29, 12, 2, tzinfo=UTC))
    database.dispose()
    yield {"a": space_a.id, "b": space_b.id}


def report(server: Server, **params: str) -> Any:
    response = server.admin("GET", "/api/manage/reports/utilisation", params={**PERIOD, **params})
    assert response.status_code == 200, response.text
    return response.json() if params.get("format") != "csv" else response


def test_figures_per_space_floor_and_building(
    report_server: Server, building: dict[str, str]
) -> None:
    body = report(report_server)
    assert body["working_hours"] == HOURS
    rows = {row["space"]: row for row in body["rows"]}
    assert rows[building["a"]] == {"space": building["a"], "building": "R", "floor": "1", **SPACE_A}
    assert rows[building["b"]] == {"space": building["b"], "building": "R", "floor": "2", **SPACE_B}

    floors = report(report_server, group="floor")["rows"]
    assert {"building": "R", "floor": "1", **SPACE_A} in floors
    assert {"building": "R", "floor": "2", **SPACE_B} in floors

    buildings = report(report_server, group="building")
    assert {"building": "R", **BUILDING} in buildings["rows"]
    # The demo's own two spaces have no reservations that week: the total adds only hours.
    assert buildings["total"] == {
        **BUILDING,
        "spaces": 4,
        "working_hours": 208.0,
        "occupancy_percent": 2.4,
        "occupancy_with_preparation_cleanup_percent": 2.9,
    }
    assert buildings["weeks"] == [
        {"week": "2030-03-25", "reservations": 7, "late_cancelled": 1, "released": 1}
    ]
    busy = buildings["busy_hours"]
    assert list(busy) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert busy["Mon"][9:11] == [1.0, 1.0]
    assert busy["Tue"][17:19] == [1.0, 1.0]
    assert busy["Sun"][10] == 1.0  # 10:00 summer time, on the day the clocks change
    assert busy["Fri"][10] == 0.0  # released: the door cancelled it
    assert busy["Fri"][13] == 1.0
    assert sum(map(sum, busy.values())) == 6.0


def test_csv_and_json_agree(report_server: Server, building: dict[str, str]) -> None:
    for group in ("space", "floor", "building"):
        body = report(report_server, group=group)
        response = report(report_server, group=group, format="csv")
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        lines = list(csv.DictReader(io.StringIO(response.text)))
        assert len(lines) == len(body["rows"]) + 1
        for line, row in zip(lines, [*body["rows"], body["total"]], strict=True):
            for name, value in row.items():
                assert line[name] == ("" if value is None else str(value)), (group, name)
        assert lines[-1][next(iter(lines[-1]))] == "all"


def test_a_week_without_releases_has_no_no_show_rate(
    report_server: Server, building: dict[str, str]
) -> None:
    body = report(report_server, **{"from": "2030-04-01", "till": "2030-04-08"})
    assert body["total"]["released"] == 0
    assert body["total"]["no_show_rate_percent"] is None
    assert body["total"]["working_hours"] == 4 * 52.0
    assert body["weeks"] == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "2030-13-01"}, "from '2030-13-01' is not a date yyyy-mm-dd."),
        (
            {"from": "0001-01-01", "till": "0001-02-01"},
            "a report covers days in the years 1900 to 9998.",
        ),
        ({"till": "2030-03-25"}, "till '2030-03-25' must be after from '2030-03-25'."),
        ({"group": "room"}, "group 'room' is not one of space, floor, building."),
        ({"format": "xml"}, "format 'xml' is not one of json, csv."),
        ({"till": "2032-01-01"}, "a report covers at most 400 days; ask for a shorter period."),
    ],
)
def test_bad_parameters_are_refused(
    report_server: Server, params: dict[str, str], message: str
) -> None:
    response = report_server.admin(
        "GET", "/api/manage/reports/utilisation", params={**PERIOD, **params}
    )
    assert response.status_code == 400
    assert response.json() == {"message": message, "code": "InvalidParameter"}


def test_the_report_needs_the_admin_token(report_server: Server) -> None:
    response = report_server.client.get("/api/manage/reports/utilisation", params=PERIOD)
    assert response.status_code == 401


def test_the_cli_prints_the_same_report(
    report_server: Server, building: dict[str, str], tmp_path: Path
) -> None:
    env = {"ROOMLINE_WORKING_HOURS": HOURS}
    args = ["--from", PERIOD["from"], "--till", PERIOD["till"], "--group", "building"]
    url = ["--database-url", report_server.database_url]
    printed = roomline(
        "report", "utilisation", *args, "--format", "json", *url, cwd=tmp_path, env=env
    )
    assert printed.returncode == 0, printed.stderr
    import json

    assert json.loads(printed.stdout) == report(report_server, group="building")
    as_csv = roomline(
        "report", "utilisation", *args, "--format", "csv", *url, cwd=tmp_path, env=env
    )
    assert as_csv.stdout == report(report_server, group="building", format="csv").text
    table = roomline("report", "utilisation", *args, *url, cwd=tmp_path, env=env)
    assert table.returncode == 0, table.stderr
    lines = [line for line in table.stdout.splitlines() if "│ R " in line or "│ all " in line]
    assert len(lines) == 2
    assert "5.8" in lines[0] and "Mon 09:00" in lines[0] and "50.0" in lines[0]
    refused = roomline("report", "utilisation", *args, "--format", "xml", *url, cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr == "error: format 'xml' is not one of table, json, csv.\n"


def test_bad_working_hours_stop_the_server(tmp_path: Path) -> None:
    result = roomline(
        "serve",
        "--database-url",
        f"sqlite:///{tmp_path}/r.db",
        cwd=tmp_path,
        env={"ROOMLINE_WORKING_HOURS": "mon-fri 18:00-08:00"},
    )
    assert result.returncode == 1
    assert result.stderr == (
        "error: ROOMLINE_WORKING_HOURS='mon-fri 18:00-08:00': "
        "working hours range '18:00-08:00' ends before it starts.\n"
    )
