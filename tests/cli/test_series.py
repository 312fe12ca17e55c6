"""``roomline series``: create (and preview), show, update and cancel on the database."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Cli

TAKEN = "Room reservation cannot be requested or processed.\r\nCause: {} is not available."


@pytest.fixture
def room(cli: Cli) -> str:
    cli("spaces", "add", "R-1", "--time-zone", "Europe/Amsterdam", "--description", "Room one")
    cli("people", "add", "P-1", "--name", "Doe, J.")
    return "R-1"


def create(cli: Cli, *extra: str, ok: bool = True) -> object:
    args = [
        "series",
        "create",
        "--space",
        "R-1",
        "--applicant",
        "P-1",
        "--start",
        "2035-03-19 09:00:00",
        "--end",
        "2035-03-19 10:00:00",
        "--rrule",
        "FREQ=WEEKLY;COUNT=3",
        "--description",
        "Stand-up",
        *extra,
    ]
    return cli.json(*args) if ok else cli(*args, ok=False)


def test_create_show_update_cancel(cli: Cli, room: str) -> None:
    created = create(cli)
    assert isinstance(created, dict)
    ids = [o["ultimo_id"] for o in created["occurrences"]]
    assert [o["start"] for o in created["occurrences"]] == [
        "2035-03-19T09:00:00+01:00",
        "2035-03-26T09:00:00+02:00",
        "2035-04-02T09:00:00+02:00",
    ]
    series_id = str(created["series_id"])
    table = cli("series", "show", series_id).stdout.splitlines()
    assert table[0] == f"series {series_id}: Stand-up, R-1, FREQ=WEEKLY;COUNT=3"
    assert table[1].split() == ["ULTIMO", "ID", "START", "END", "STATUS", "EXCEPTION"]
    assert table[2].split() == [
        ids[0],
        "2035-03-19T09:00:00+01:00",
        "2035-03-19T10:00:00+01:00",
        "Processed",
        "no",
    ]

    updated = cli.json(
        "series", "update", series_id, "--from", "2035-03-26T09:00:00+02:00", "--time", "11:15"
    )
    assert [(o["ultimo_id"], o["start"]) for o in updated["occurrences"]] == [
        (ids[1], "2035-03-26T11:15:00+02:00"),
        (ids[2], "2035-04-02T11:15:00+02:00"),
    ]
    cancelled = cli.json("series", "cancel", series_id, "--from", "2035-04-02T11:15:00+02:00")
    assert cancelled["cancelled"] == [ids[2]]
    shown = cli.json("series", "show", series_id)
    assert [(o["start"], o["status"]) for o in shown["occurrences"]] == [
        ("2035-03-19T09:00:00+01:00", "Processed"),
        ("2035-03-26T11:15:00+02:00", "Processed"),
        ("2035-04-02T11:15:00+02:00", "Cancelled"),
    ]


def test_a_conflict_lists_every_occurrence_and_stores_nothing(cli: Cli, room: str) -> None:
    create(cli, "--rrule", "FREQ=WEEKLY;COUNT=2")
    result = create(cli, "--rrule", "FREQ=DAILY;COUNT=8", ok=False)
    # The message's own line break (\r\n, as Ultimo writes it) reads as one on a terminal.
    assert result.stderr.replace("\r", "") == (  # type: ignore[attr-defined]
        f"error: {TAKEN.format('Room one').replace(chr(13), '')}\n"
        f"  2035-03-19T09:00:00+01:00 to 2035-03-19T10:00:00+01:00: {' '.join(TAKEN.format('Room one').split())}\n"
        f"  2035-03-26T09:00:00+02:00 to 2035-03-26T10:00:00+02:00: {' '.join(TAKEN.format('Room one').split())}\n"
    )  # fmt: skip
    assert len(cli.json("reservations", "list")) == 2
    preview = cli.json(
        "series", "create", "--space", "R-1", "--applicant", "P-1",
        "--start", "2035-03-19 09:00:00", "--end", "2035-03-19 10:00:00",
        "--rrule", "FREQ=DAILY;COUNT=8", "--preview",
    )  # fmt: skip
    assert preview["series_id"] is None
    assert len(preview["occurrences"]) == 6
    assert [s["start"] for s in preview["skipped"]] == [
        "2035-03-19T09:00:00+01:00",
        "2035-03-26T09:00:00+02:00",
    ]
    assert len(cli.json("reservations", "list")) == 2
    skipped = create(cli, "--rrule", "FREQ=DAILY;COUNT=8", "--on-conflict", "skip")
    assert isinstance(skipped, dict)
    assert len(skipped["occurrences"]) == 6
    assert len(cli.json("reservations", "list")) == 8


def test_refusals_print_one_error_line(cli: Cli, room: str) -> None:
    result = create(cli, "--rrule", "FREQ=WEEKLY", ok=False)
    assert result.stderr == (  # type: ignore[attr-defined]
        "error: rrule 'FREQ=WEEKLY' must end: give it a COUNT or an UNTIL (one of them, "
        "not both).\n"
    )
    missing = cli("series", "show", "4711", ok=False)
    assert missing.stderr == "error: There is no series 4711.\n"
