"""``roomline reservations list``: filters, output forms, and refusals."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.cli.conftest import Cli


@pytest.fixture
def booked(cli: Cli, book: Callable[..., int]) -> list[int]:
    """Two spaces in two zones; R-1 has three reservations (one cancelled), R-2 one."""
    cli("spaces", "add", "R-1", "--time-zone", "Europe/Amsterdam", "--preparation-minutes", "15")
    cli("spaces", "add", "R-2", "--time-zone", "Pacific/Auckland")
    cli("people", "add", "P-1", "--name", "Doe, J.")
    return [
        book("R-1", "P-1", 0),
        book("R-1", "P-1", 2, cancel=True),
        book("R-2", "P-1", 3),
        book("R-1", "P-1", 48),
    ]


def ids(rows: list[dict[str, Any]]) -> list[int]:
    return [int(row["ultimo_id"]) for row in rows]


def test_lists_every_reservation_by_start(cli: Cli, booked: list[int]) -> None:
    rows = cli.json("reservations", "list")
    assert ids(rows) == booked
    first = rows[0]
    start = datetime.fromisoformat(first["start"])
    assert start.utcoffset() in (timedelta(hours=1), timedelta(hours=2))  # Amsterdam
    assert first == {
        "ultimo_id": f"{booked[0]:011d}",
        "space_id": "R-1",
        "applicant_id": "P-1",
        "applicant_name": "Doe, J.",
        "description": "Meeting 0",
        "start": first["start"],
        "end": (start + timedelta(hours=1)).isoformat(timespec="microseconds"),
        "start_including_preparation": (start - timedelta(minutes=15)).isoformat(
            timespec="microseconds"
        ),
        "end_including_cleanup": (start + timedelta(hours=1)).isoformat(timespec="microseconds"),
        "status": "Processed",
        "external_id": "",
    }
    assert datetime.fromisoformat(rows[2]["start"]).utcoffset() in (
        timedelta(hours=12),
        timedelta(hours=13),
    )  # Auckland
    table = cli("reservations", "list").stdout.splitlines()
    assert table[0].split() == [
        "ULTIMO",
        "ID",
        "SPACE",
        "START",
        "END",
        "STATUS",
        "APPLICANT",
        "NAME",
        "DESCRIPTION",
    ]
    assert [line.split()[0] for line in table[1:]] == [f"{n:011d}" for n in booked]


def test_filters(cli: Cli, booked: list[int]) -> None:
    assert ids(cli.json("reservations", "list", "--space", "R-1")) == [
        booked[0],
        booked[1],
        booked[3],
    ]
    assert ids(cli.json("reservations", "list", "--status", "cancelled")) == [booked[1]]
    assert ids(cli.json("reservations", "list", "--status", "Processed", "--space", "R-1")) == [
        booked[0],
        booked[3],
    ]
    base = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    after_first = (base + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    before_last = (base + timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(cli.json("reservations", "list", "--from", after_first)) == booked
    assert (
        ids(cli.json("reservations", "list", "--from", after_first, "--till", before_last))
        == booked[:3]
    )
    later = (base + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(cli.json("reservations", "list", "--from", later)) == booked[1:]


def test_wall_clock_filter_reads_the_space_zone(cli: Cli, booked: list[int]) -> None:
    rows = cli.json("reservations", "list", "--space", "R-2")
    local_start = datetime.fromisoformat(rows[0]["start"]).strftime("%Y-%m-%d %H:%M:%S")
    assert ids(cli.json("reservations", "list", "--space", "R-2", "--till", local_start)) == []
    assert ids(cli.json("reservations", "list", "--space", "R-2", "--from", local_start)) == [
        booked[2]
    ]


def test_limit_says_when_it_cuts(cli: Cli, booked: list[int]) -> None:
    result = cli("reservations", "list", "--limit", "2", "--json")
    assert ids(json.loads(result.stdout)) == booked[:2]
    assert result.stderr == (
        "note: only the first 2 reservations are shown; narrow the filter or raise --limit.\n"
    )
    assert cli("reservations", "list", "--limit", "4").stderr == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--status", "done"],
            "error: Unknown status 'done'; use Processed, Cancelled or all.",
            id="status",
        ),
        pytest.param(["--space", "R-404"], "error: There is no space 'R-404'.", id="space"),
        pytest.param(
            ["--from", "tomorrow"],
            "error: --from 'tomorrow' is not a valid date and time",
            id="from",
        ),
        pytest.param(
            ["--from", "2030-01-02 00:00:00", "--till", "2030-01-01 00:00:00"],
            "error: --till must be after --from.",
            id="reversed",
        ),
        pytest.param(
            ["--limit", "0"], "error: limit must be between 1 and 100000, not 0.", id="limit"
        ),
    ],
)
def test_refusals(cli: Cli, booked: list[int], args: list[str], message: str) -> None:
    assert cli("reservations", "list", *args, ok=False).stderr.startswith(message)


def test_empty_database(cli: Cli) -> None:
    assert cli.json("reservations", "list") == []
