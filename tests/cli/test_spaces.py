"""``roomline spaces``: every command, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Cli

# Check-in at the door (issue 18): off, opening 15 minutes before, releasing after 10.
DOOR_DEFAULTS = {
    "check_in_required": False,
    "check_in_opens_minutes": 15,
    "auto_release_minutes": 10,
}
ROOM_1 = {
    "id": "R-1",
    "description": "Board room",
    "time_zone": "Europe/Amsterdam",
    "preparation_minutes": 15,
    "cleanup_minutes": 10,
    "capacity": 12,
    "bookable": True,
    "building": "HQ",
    "floor": "2",
    "features": ["projector", "video"],
    **DOOR_DEFAULTS,
}
ROOM_2 = {
    "id": "R-2",
    "description": "",
    "time_zone": None,
    "preparation_minutes": 0,
    "cleanup_minutes": 0,
    "capacity": None,
    "bookable": True,
    "building": None,
    "floor": None,
    "features": [],
    **DOOR_DEFAULTS,
}


def add_two(cli: Cli) -> None:
    cli(
        "spaces",
        "add",
        "R-1",
        "--description",
        "Board room",
        "--time-zone",
        "Europe/Amsterdam",
        "--preparation-minutes",
        "15",
        "--cleanup-minutes",
        "10",
        "--capacity",
        "12",
        "--building",
        "HQ",
        "--floor",
        "2",
        "--features",
        "Video, projector",
    )
    cli("spaces", "add", "R-2")


def test_add_list_update_remove(cli: Cli) -> None:
    add_two(cli)
    assert cli.json("spaces", "list") == [ROOM_1, ROOM_2]
    assert cli("spaces", "list").stdout.splitlines() == [
        "ID   DESCRIPTION  TIME ZONE         PREP  CLEANUP  CAPACITY  BOOKABLE  BUILDING  FLOOR"
        "  FEATURES         CHECK-IN  OPENS  RELEASE",
        "R-1  Board room   Europe/Amsterdam  15    10       12        yes       HQ        2    "
        "  projector,video  no        15     10",
        "R-2               -                 0     0        -         yes       -         -    "
        "                   no        15     10",
    ]

    updated = cli("spaces", "update", "R-1", "--not-bookable", "--capacity", "none")
    assert updated.stdout == "updated space R-1\n"
    cli("spaces", "update", "R-2", "--time-zone", "Pacific/Auckland", "--description", "Small")
    cli("spaces", "update", "R-2", "--building", "Annex", "--features", "wheelchair")
    assert cli.json("spaces", "list") == [
        {**ROOM_1, "capacity": None, "bookable": False},
        {
            **ROOM_2,
            "time_zone": "Pacific/Auckland",
            "description": "Small",
            "building": "Annex",
            "features": ["wheelchair"],
        },
    ]
    cli("spaces", "update", "R-1", "--building", "none", "--floor", "none", "--features", "none")
    assert cli.json("spaces", "list")[0] == {
        **ROOM_1,
        "capacity": None,
        "bookable": False,
        "building": None,
        "floor": None,
        "features": [],
    }
    bad = cli("spaces", "update", "R-1", "--features", "big screen", ok=False)
    assert "feature 'big screen' is not a short tag" in bad.output

    assert cli("spaces", "remove", "R-2").stdout == "removed space R-2\n"
    assert [space["id"] for space in cli.json("spaces", "list")] == ["R-1"]


def test_database_url_option_wins_over_environment(cli: Cli, tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    cli("spaces", "add", "ELSEWHERE", "--database-url", other)
    assert cli.json("spaces", "list") == []
    assert cli("spaces", "list", "--json", "--database-url", other).stdout.count("ELSEWHERE") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["add", "R-9", "--time-zone", "Mars/Olympus"],
            "error: time_zone 'Mars/Olympus' is not an IANA time zone",
            id="unknown time zone",
        ),
        pytest.param(
            ["add", "R-9", "--preparation-minutes", "-5"],
            "error: preparation_minutes must be between 0 and 10080, not -5.",
            id="negative preparation",
        ),
        pytest.param(
            ["add", "R-9", "--cleanup-minutes", "20000"],
            "error: cleanup_minutes must be between 0 and 10080, not 20000.",
            id="cleanup over a week",
        ),
        pytest.param(
            ["add", "R-9", "--capacity", "many"],
            "error: capacity must be a whole number, not 'many'.",
            id="capacity not a number",
        ),
        pytest.param(["add", " "], "error: id is required.", id="blank id"),
        pytest.param(
            ["add", "R-1"], "error: Space 'R-1' already exists; update it instead.", id="duplicate"
        ),
        pytest.param(
            ["update", "R-404", "--capacity", "3"],
            "error: There is no space 'R-404'.",
            id="update unknown",
        ),
        pytest.param(
            ["update", "R-1", "--preparation-minutes", "-1"],
            "error: preparation_minutes must be between 0 and 10080, not -1.",
            id="update negative",
        ),
        pytest.param(["remove", "R-404"], "error: There is no space 'R-404'.", id="remove unknown"),
    ],
)
def test_refusals_change_nothing(cli: Cli, args: list[str], message: str) -> None:
    add_two(cli)
    result = cli("spaces", *args, ok=False)
    assert result.stderr.startswith(message), result.stderr
    assert result.stdout == ""
    assert cli.json("spaces", "list") == [ROOM_1, ROOM_2]


def test_remove_refused_while_reservations_name_the_space(
    cli: Cli, book: Callable[..., int]
) -> None:
    add_two(cli)
    cli("people", "add", "P-1", "--name", "Doe, J.")
    book("R-1", "P-1", 0)
    book("R-1", "P-1", 2, cancel=True)
    result = cli("spaces", "remove", "R-1", ok=False)
    assert result.stderr == (
        "error: Space 'R-1' cannot be removed: 2 reservation(s) name it (1 active). "
        "Mark it not bookable instead.\n"
    )
    assert [space["id"] for space in cli.json("spaces", "list")] == ["R-1", "R-2"]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_then_import_round_trip(cli: Cli, tmp_path: Path, fmt: str) -> None:
    add_two(cli)
    exported = tmp_path / f"spaces.{fmt}"
    cli("spaces", "export", str(exported))
    cli("spaces", "remove", "R-2")
    cli("spaces", "update", "R-1", "--capacity", "2")

    result = cli("spaces", "import", str(exported))
    assert result.stdout == "imported 2 spaces: 1 added, 1 updated\n"
    assert cli.json("spaces", "list") == [ROOM_1, ROOM_2]


def test_export_formats(cli: Cli) -> None:
    add_two(cli)
    assert cli("spaces", "export").stdout == (
        "id,description,time_zone,preparation_minutes,cleanup_minutes,capacity,bookable,"
        "building,floor,features,check_in_required,check_in_opens_minutes,auto_release_minutes\n"
        'R-1,Board room,Europe/Amsterdam,15,10,12,true,HQ,2,"projector,video",false,15,10\n'
        "R-2,,,0,0,,true,,,,false,15,10\n"
    )
    assert json.loads(cli("spaces", "export", "--format", "json").stdout) == [ROOM_1, ROOM_2]


def test_import_spreadsheet_csv(cli: Cli, tmp_path: Path) -> None:
    """Semicolons, a byte order mark, missing columns and yes/no, as spreadsheets write."""
    source = tmp_path / "rooms.csv"
    source.write_text(
        '\ufeffID;Description;Bookable;Capacity\nA;Room A;yes;4\n\nB;"Room; B";no;\n',
        encoding="utf-8",
    )
    assert cli("spaces", "import", str(source)).stdout == "imported 2 spaces: 2 added, 0 updated\n"
    assert cli.json("spaces", "list") == [
        {**ROOM_2, "id": "A", "description": "Room A", "capacity": 4},
        {**ROOM_2, "id": "B", "description": "Room; B", "bookable": False},
    ]


def test_import_of_a_few_columns_changes_only_those(cli: Cli, tmp_path: Path) -> None:
    add_two(cli)
    source = tmp_path / "capacities.csv"
    source.write_text("id,capacity,bookable\nR-1,30,\nR-3,5,no\n")
    assert cli("spaces", "import", str(source)).stdout == (
        "imported 2 spaces: 1 added, 1 updated\n"
    )
    assert cli.json("spaces", "list") == [
        {**ROOM_1, "capacity": 30},  # a blank cell takes the default (bookable)
        ROOM_2,
        {**ROOM_2, "id": "R-3", "capacity": 5, "bookable": False},
    ]


BAD_CSV = (
    "id,description,time_zone,preparation_minutes\n"
    "R-1,Renamed,Europe/Amsterdam,5\n"
    "R-3,New room,,0\n"
    "R-4,Broken room,Europe/Nowhere,0\n"
    "R-5,Another,,-10\n"
)
BAD_JSON = """[
  {"id": "R-1", "description": "Renamed"},
  {"id": "R-3", "description": "New room"},
  {"id": "R-4", "time_zone": "Europe/Nowhere"},
  {"id": "R-5", "preparation_minutes": -10}
]
"""


@pytest.mark.parametrize(("fmt", "content"), [("csv", BAD_CSV), ("json", BAD_JSON)])
def test_import_with_bad_rows_changes_nothing(
    cli: Cli, tmp_path: Path, fmt: str, content: str
) -> None:
    add_two(cli)
    source = tmp_path / f"rooms.{fmt}"
    source.write_text(content)
    result = cli("spaces", "import", str(source), ok=False)
    assert result.stderr == (
        "error: Nothing was imported: 2 rows are invalid.\n"
        "line 4: time_zone 'Europe/Nowhere' is not an IANA time zone such as "
        "Europe/Amsterdam; leave it out for the server's default zone.\n"
        "line 5: preparation_minutes must be between 0 and 10080, not -10.\n"
    )
    assert cli.json("spaces", "list") == [ROOM_1, ROOM_2]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        pytest.param(
            "dup.csv",
            "id\nA\nB\nA\n",
            "line 4: id 'A' already appears on line 2.",
            id="duplicate id",
        ),
        pytest.param(
            "typo.csv",
            "id,timezone\nA,UTC\n",
            "line 2: Unknown field 'timezone'",
            id="unknown column",
        ),
        pytest.param(
            "short.csv",
            "id,description\nA,x\nB\n",
            "line 3: the row has 1 fields, the header 2.",
            id="short row",
        ),
        pytest.param(
            "quote.csv",
            'id,description\nA,"never closed\n',
            "line 2: not readable as CSV",
            id="open quote",
        ),
        pytest.param("empty.csv", "", "the file has no header row", id="empty csv"),
        pytest.param(
            "broken.json",
            '[\n  {"id": "A"},\n  {"id": \n]',
            "line 4: not valid JSON",
            id="broken json",
        ),
        pytest.param(
            "object.json",
            '{"id": "A"}',
            "line 1: the file must hold a JSON array",
            id="not an array",
        ),
        pytest.param(
            "numbers.json", "[1, 2]", "line 1: each item must be a JSON object", id="not objects"
        ),
        pytest.param(
            "typed.json",
            '[{"id": "A", "bookable": "perhaps"},\n {"id": 7}]',
            "line 1: bookable must be true or false, not 'perhaps'.\nline 2: id must be text",
            id="wrong json types",
        ),
    ],
)
def test_unreadable_imports_change_nothing(
    cli: Cli, tmp_path: Path, name: str, content: str, message: str
) -> None:
    source = tmp_path / name
    source.write_text(content)
    result = cli("spaces", "import", str(source), ok=False)
    assert "error: Nothing was imported" in result.stderr
    assert message in result.stderr
    assert cli.json("spaces", "list") == []


def test_import_from_standard_input(cli: Cli) -> None:
    result = cli("spaces", "import", "-", "--format", "json", input='[{"id": "STDIN"}]')
    assert result.stdout == "imported 1 spaces: 1 added, 0 updated\n"
    assert cli("spaces", "import", "-", input="id\nX\n", ok=False).stderr == (
        "error: Say which format the file has: csv or json.\n"
    )


def test_import_refuses_missing_file_and_unknown_format(cli: Cli, tmp_path: Path) -> None:
    assert cli("spaces", "import", str(tmp_path / "nope.csv"), ok=False).stderr.startswith(
        f"error: cannot read {tmp_path / 'nope.csv'}"
    )
    (tmp_path / "rooms.xlsx").write_text("x")
    assert cli("spaces", "import", str(tmp_path / "rooms.xlsx"), ok=False).stderr == (
        "error: Unknown file format 'xlsx'; use csv or json.\n"
    )


def test_long_import_shows_progress(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "many.csv"
    source.write_text("id,capacity\n" + "".join(f"ROOM-{n:05d},{n % 50}\n" for n in range(1200)))
    result = cli("spaces", "import", str(source), "--progress")
    assert result.stdout == "imported 1200 spaces: 1200 added, 0 updated\n"
    assert "importing spaces" in result.stderr
    assert "1200/1200" in result.stderr
    listed = cli.json("spaces", "list")
    assert len(listed) == 1200
    assert listed[-1] == {**ROOM_2, "id": "ROOM-01199", "capacity": 1199 % 50}
    # Re-importing the same file updates every row, in one transaction again.
    again = cli("spaces", "import", str(source), "--no-progress")
    assert again.stdout == "imported 1200 spaces: 0 added, 1200 updated\n"
    assert again.stderr == ""
