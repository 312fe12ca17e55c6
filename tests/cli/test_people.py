"""``roomline people``: every command, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from roomline.storage.database import Database
from tests.cli.conftest import Cli
from tests.support import fresh_database_url


def test_add_list_update_remove(cli: Cli) -> None:
    assert cli("people", "add", "ULTIMO", "--name", "Fasse, J.").stdout == "added person ULTIMO\n"
    cli("people", "add", "P-2")
    assert cli.json("people", "list") == [
        {"id": "P-2", "name": ""},
        {"id": "ULTIMO", "name": "Fasse, J."},
    ]
    assert cli("people", "list").stdout.splitlines() == [
        "ID      NAME",
        "P-2",
        "ULTIMO  Fasse, J.",
    ]
    cli("people", "update", "P-2", "--name", "Jansen, P.")
    assert cli("people", "remove", "ULTIMO").stdout == "removed person ULTIMO\n"
    assert cli.json("people", "list") == [{"id": "P-2", "name": "Jansen, P."}]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["add", "P-1"], "error: Person 'P-1' already exists", id="duplicate"),
        pytest.param(["add", ""], "error: id is required.", id="empty id"),
        pytest.param(
            ["add", "P-9", "--name", "x" * 501], "error: name is longer than 500", id="long name"
        ),
        pytest.param(
            ["update", "P-404", "--name", "X"],
            "error: There is no person 'P-404'.",
            id="update unknown",
        ),
        pytest.param(
            ["remove", "P-404"], "error: There is no person 'P-404'.", id="remove unknown"
        ),
    ],
)
def test_refusals_change_nothing(cli: Cli, args: list[str], message: str) -> None:
    cli("people", "add", "P-1", "--name", "One")
    assert cli("people", *args, ok=False).stderr.startswith(message)
    assert cli.json("people", "list") == [{"id": "P-1", "name": "One"}]


def test_remove_refused_while_reservations_name_the_person(
    cli: Cli, book: Callable[..., int]
) -> None:
    cli("spaces", "add", "R-1")
    cli("people", "add", "P-1")
    book("R-1", "P-1")
    assert cli("people", "remove", "P-1", ok=False).stderr == (
        "error: Person 'P-1' cannot be removed: 1 reservation(s) name them as applicant "
        "(1 active).\n"
    )
    assert cli.json("people", "list") == [{"id": "P-1", "name": ""}]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_then_import_round_trip(cli: Cli, tmp_path: Path, fmt: str) -> None:
    cli("people", "add", "A", "--name", "Doe, A.")
    cli("people", "add", "B", "--name", 'Quote "B"')
    exported = tmp_path / f"people.{fmt}"
    cli("people", "export", str(exported), "--format", fmt)
    cli("people", "remove", "B")
    cli("people", "update", "A", "--name", "Changed")
    assert cli("people", "import", str(exported)).stdout == (
        "imported 2 people: 1 added, 1 updated\n"
    )
    assert cli.json("people", "list") == [
        {"id": "A", "name": "Doe, A."},
        {"id": "B", "name": 'Quote "B"'},
    ]


def test_export_to_standard_output(cli: Cli) -> None:
    cli("people", "add", "A", "--name", "Doe, A.")
    assert cli("people", "export").stdout == 'id,name\nA,"Doe, A."\n'
    assert cli("people", "export", "-", "--format", "json").stdout == (
        '[\n  {"id": "A", "name": "Doe, A."}\n]\n'
    )


def test_import_with_a_bad_row_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    cli("people", "add", "A", "--name", "Doe, A.")
    source = tmp_path / "people.csv"
    source.write_text("id,name\nA,Renamed\nB,New\n,Nameless\n")
    assert cli("people", "import", str(source), ok=False).stderr == (
        "error: Nothing was imported: 1 row is invalid.\nline 4: id is required.\n"
    )
    assert cli.json("people", "list") == [{"id": "A", "name": "Doe, A."}]


def test_long_import_shows_progress(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "people.json"
    source.write_text(
        "[\n" + ",\n".join(f'{{"id": "P{n}", "name": "Person {n}"}}' for n in range(700)) + "\n]"
    )
    result = cli("people", "import", str(source), "--progress")
    assert result.stdout == "imported 700 people: 700 added, 0 updated\n"
    assert "importing people" in result.stderr and "700/700" in result.stderr
    assert len(cli.json("people", "list")) == 700


def test_an_import_leaves_postgresql_statistics_of_what_it_loaded(tmp_path: Path) -> None:
    """PostgreSQL only: SQLite's planner keeps no statistics to refresh."""
    with fresh_database_url("postgresql", tmp_path) as url:
        source = tmp_path / "people.csv"
        source.write_text("id,name\n" + "".join(f"P{n},Person {n}\n" for n in range(700)))
        Cli(url, CliRunner())("people", "import", str(source))
        database = Database(url)
        try:
            with database.read() as conn:
                counted = conn.execute(
                    text("SELECT reltuples FROM pg_class WHERE relname = 'people'")
                ).scalar_one()
        finally:
            database.dispose()
    assert counted == 700  # the planner's count; -1 would be "never analyzed"
