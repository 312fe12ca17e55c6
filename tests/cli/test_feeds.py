"""``roomline feeds``: the secret URL printed once, listed by id without it, revoked for good;
a feed made on the command line is served by ``roomline serve`` until it is revoked."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import icalendar

from tests.cli.conftest import Cli
from tests.support import start_server

PATH = re.compile(r"/feeds/[A-Za-z0-9_-]{43}\.ics")


def furnish(cli: Cli) -> None:
    cli(
        "spaces",
        "add",
        "C-25",
        "--description",
        "Meeting room 2",
        "--time-zone",
        "Europe/Amsterdam",
    )
    cli("people", "add", "ULTIMO", "--name", "Fasse, J.")


def test_create_prints_the_url_once_and_list_and_revoke_take_its_id(cli: Cli) -> None:
    furnish(cli)
    made = cli("feeds", "create", "--space", "C-25", "--name", "reception")
    lines = made.stdout.splitlines()
    assert lines[0] == "created calendar feed 1 for space C-25"
    assert PATH.fullmatch(lines[-1]), made.stdout  # no base URL known: the path
    token_path = lines[-1]

    absolute = cli(
        "feeds", "create", "--applicant", "ULTIMO", "--public-url", "https://rooms.example.com/"
    )
    url = absolute.stdout.splitlines()[-1]
    assert url.startswith("https://rooms.example.com/feeds/") and PATH.fullmatch(url[25:])
    assert f"subscribe with a click: webcal://rooms.example.com{url[25:]}" in absolute.stdout

    listed = cli.json("feeds", "list")
    assert [
        (f["id"], f["scope"], f["space_id"], f["applicant_id"], f["name"], f["status"])
        for f in listed
    ] == [
        (1, "space", "C-25", None, "reception", "active"),
        (2, "applicant", None, "ULTIMO", "", "active"),
    ]
    table = cli("feeds", "list").stdout
    assert token_path not in table and token_path[7:-4] not in table
    assert [line.split()[:3] for line in table.splitlines()[1:]] == [
        ["1", "space", "C-25"],
        ["2", "applicant", "ULTIMO"],
    ]
    assert [f["id"] for f in cli.json("feeds", "list", "--space", "C-25")] == [1]

    assert cli("feeds", "revoke", "1").stdout == "revoked calendar feed 1 (space C-25)\n"
    assert [f["status"] for f in cli.json("feeds", "list")] == ["revoked", "active"]


def test_refusals_name_the_problem_and_change_nothing(cli: Cli) -> None:
    furnish(cli)
    for args, message in (
        ((), "error: Give either a space or an applicant for a calendar feed."),
        (
            ("--space", "C-25", "--applicant", "ULTIMO"),
            "error: Give either a space or an applicant",
        ),
        (("--space", "NOPE"), "error: SpaceId 'NOPE' is not a known space."),
        (("--applicant", "NOPE"), "error: ApplicantId 'NOPE' is not a known person."),
        (
            ("--space", "C-25", "--public-url", "rooms.example.com"),
            "error: --public-url rooms.example.com: give the server's address with http://",
        ),
    ):
        refused = cli("feeds", "create", *args, ok=False)
        assert refused.stderr.startswith(message), (args, refused.stderr)
    assert cli.json("feeds", "list") == []
    assert cli("feeds", "revoke", "7", ok=False).stderr == "error: There is no calendar feed 7.\n"


def test_a_feed_made_on_the_command_line_is_served_until_revoked(
    cli: Cli, database_url: str, tmp_path: Path
) -> None:
    furnish(cli)
    path = cli("feeds", "create", "--space", "C-25").stdout.splitlines()[-1]
    server = start_server(database_url, tmp_path, command="serve")
    try:
        served = httpx.get(server.base_url + path, timeout=30)
        assert served.status_code == 200
        calendar = icalendar.Calendar.from_ical(served.content)
        assert str(calendar["X-WR-CALNAME"]) == "C-25 Meeting room 2 (roomline)"
        cli("feeds", "revoke", "1")
        assert httpx.get(server.base_url + path, timeout=30).status_code == 404
    finally:
        server.stop()
