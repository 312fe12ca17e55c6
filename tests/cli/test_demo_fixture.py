"""``roomline demo --fixture``: a bad fixture is refused at start, every problem listed,
and nothing is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from roomline.services.demo import seed_if_empty
from roomline.storage.database import Database
from roomline.storage.migrate import upgrade
from roomline.storage.tables import api_keys, people, reservations, spaces
from tests.cli.conftest import Cli

BAD_TOML = """\
clock = "yesterday"
colour = 3
next_ultimo_id = 2

[[spaces]]
id = "R-1"
time_zone = "Mars/Base"

[[spaces]]
id = "R-2"
preparation_minutes = 15

[[spaces]]
id = "R-2"

[[people]]
id = "P-1"
name = "Doe, J."
shoe_size = 44

[[keys]]
name = "panel"
secret = "not-hex"

[[keys]]
name = "panel"
secret = "0123456789ABCDEF0123456789ABCDEF"
workflows = ["REST_Teleport"]

[[reservations]]
space_id = "R-9"
applicant_id = "NOBODY"
start = "2030-01-07 10:00:00"
end = "2030-01-07 09:00:00"

[[reservations]]
ultimo_id = 7
space_id = "R-2"
applicant_id = "P-1"
start = 2030-01-07T10:00:00
end = 2030-01-07T11:00:00

[[reservations]]
ultimo_id = 8
space_id = "R-2"
applicant_id = "P-1"
start = "2030-01-07 11:10:00"
end = "2030-02-30 12:00:00"

[[reservations]]
ultimo_id = 9
space_id = "R-2"
applicant_id = "P-1"
start = "2030-01-07 11:10:00"
end = "2030-01-07 12:00:00"
"""


def problems_of(cli: Cli, path: Path) -> list[str]:
    """Run the demo with ``path``; return the problem lines it printed (it must refuse)."""
    result = cli("demo", "--fixture", str(path), ok=False)
    header, *lines = result.stderr.splitlines()
    count = len(lines)
    assert header == (
        f"error: the fixture {path} is refused ({count} problem{'s' * (count != 1)}); "
        "nothing was loaded:"
    )
    return [line.removeprefix(f"  {path}: ") for line in lines]


def stored_rows(database_url: str) -> list[int]:
    database = Database(database_url)
    try:
        upgrade(database)
        with database.read() as conn:
            return [
                conn.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (spaces, people, api_keys, reservations)
            ]
    finally:
        database.dispose()


def test_every_problem_is_listed_and_nothing_is_loaded(
    cli: Cli, tmp_path: Path, database_url: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(BAD_TOML)
    assert problems_of(cli, path) == [
        "colour: unknown section; the sections are clock, next_ultimo_id, "
        "application_element_ids, spaces, people, keys, reservations",
        "clock: clock 'yesterday' is not a valid date and time; use yyyy-MM-dd HH:mm:ss "
        "(wall-clock time in the space's time zone), yyyy-MM-ddTHH:mm:ssZ (UTC), or ISO 8601 "
        "with a T, optional fractional seconds and an optional offset such as +02:00.",
        "spaces[0] (R-1): time_zone 'Mars/Base' is not an IANA time zone such as "
        "Europe/Amsterdam; leave it out for the server's default zone.",
        "spaces[2] (R-2): id 'R-2' is given twice",
        "people[0] (P-1): Unknown field 'shoe_size'; the fields are id, name.",
        "keys[0] (panel): secret is required: 32 hexadecimal digits, as Ultimo's keys are",
        "keys[1] (panel): workflows must be a list of REST_CreateReservation, "
        "REST_UpdateReservation, REST_CancelReservation, REST_GetReservationsForSpace",
        "reservations[0]: space_id 'R-9' names no space of the fixture",
        "reservations[0]: applicant_id 'NOBODY' names no person of the fixture",
        "reservations[0]: end must be after start",
        "reservations[1] (7): applicant_id 'P-1' names no person of the fixture",
        "reservations[2] (8): applicant_id 'P-1' names no person of the fixture",
        "reservations[2] (8): end '2030-02-30 12:00:00' is not a real calendar date and time.",
        "reservations[3] (9): applicant_id 'P-1' names no person of the fixture",
    ]
    assert stored_rows(database_url) == [0, 0, 0, 0]


def test_overlaps_and_numbering_are_checked_across_entries(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "overlap.json"
    path.write_text(
        """{
  "spaces": [{"id": "R-2", "preparation_minutes": 15, "time_zone": "Europe/Amsterdam"}],
  "people": [{"id": "P-1", "name": "Doe, J."}],
  "reservations": [
    {"ultimo_id": 7, "space_id": "R-2", "applicant_id": "P-1",
     "start": "2030-01-07T10:00:00", "end": "2030-01-07T11:00:00"},
    {"ultimo_id": 8, "space_id": "R-2", "applicant_id": "P-1",
     "start": "2030-01-07 11:10:00", "end": "2030-01-07 12:00:00"},
    {"ultimo_id": 9, "space_id": "R-2", "applicant_id": "P-1", "status": "Cancelled",
     "start": "2030-01-07 11:10:00", "end": "2030-01-07 12:00:00"},
    {"ultimo_id": 8, "space_id": "R-2", "applicant_id": "P-1", "status": "Moved",
     "start": "2030-01-08 10:00:00", "end": "2030-01-08 11:00:00"}
  ],
  "next_ultimo_id": 5
}"""
    )
    assert problems_of(cli, path) == [
        "reservations[1] (8): overlaps reservation 7 in R-2 (with their preparation and "
        "cleanup time)",
        "reservations[3] (8): ultimo_id 8 is given twice",
        "reservations[3] (8): status must be 'Processed' or 'Cancelled'",
        "next_ultimo_id: must be above the highest ultimo_id, 9",
    ]


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("broken.json", '{"spaces": [\n  {"id": "R-1",}\n]}', "line 2: not valid JSON: "),
        ("broken.toml", "[[spaces]\nid = 1", "file: not valid TOML: "),
        ("list.json", "[]", "file: must hold an object with spaces, people, keys, reservations"),
        ("rooms.yaml", "spaces: []", "file: name it *.json or *.toml, so its format is known"),
        ("sections.json", '{"spaces": {"id": "R-1"}}', "spaces: must be a list of entries"),
    ],
    ids=["json syntax", "toml syntax", "not an object", "unknown format", "not a list"],
)
def test_unreadable_fixtures_are_refused(
    cli: Cli, tmp_path: Path, name: str, text: str, problem: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    [line] = problems_of(cli, path)
    assert line.startswith(problem), line


def test_a_missing_file_is_refused(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"
    assert problems_of(cli, path) == ["file: cannot be read: No such file or directory"]


def test_a_fixture_loads_only_into_an_empty_database(
    cli: Cli, tmp_path: Path, database_url: str
) -> None:
    database = Database(database_url)
    try:
        upgrade(database)
        seed_if_empty(database)
    finally:
        database.dispose()
    path = tmp_path / "fine.toml"
    path.write_text('[[people]]\nid = "P-1"\nname = "Doe, J."\n')
    assert problems_of(cli, path) == [
        "file: a fixture loads only into an empty database; leave out --database-url for a "
        "fresh one"
    ]
    assert stored_rows(database_url) == [2, 1, 1, 2]  # the playground data, untouched
