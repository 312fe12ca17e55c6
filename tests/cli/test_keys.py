"""``roomline keys``: the secret printed once, never listed; revoked keys stop working."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.support import start_server

HEX32 = re.compile(r"[0-9A-F]{32}")


def secret_of(stdout: str) -> str:
    last = stdout.splitlines()[-1]
    assert HEX32.fullmatch(last), stdout
    return last


def test_create_prints_the_secret_alone_on_the_last_line(cli: Cli) -> None:
    result = cli(
        "keys",
        "create",
        "--name",
        "panel-3",
        "--workflows",
        "get,REST_CreateReservation",
        "--workflows",
        "cancel",
        "--ip-allow",
        "192.168.1.1 - 192.168.1.255; 2001:db8::1",
        "--daily-quota",
        "5000",
    )
    secret = secret_of(result.stdout)
    assert result.stdout == (
        "created API key 'panel-3'\n"
        "workflows: REST_CreateReservation, REST_CancelReservation, REST_GetReservationsForSpace\n"
        "ip allow: 192.168.1.1-192.168.1.255;2001:db8::1\n"
        "daily quota: 5000\n"
        "secret (shown only now; send it as the ApiKey header):\n"
        f"{secret}\n"
    )
    [listed] = cli.json("keys", "list")
    created_at = listed.pop("created_at")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", created_at)
    assert listed == {
        "name": "panel-3",
        "status": "active",
        "workflows": [
            "REST_CreateReservation",
            "REST_CancelReservation",
            "REST_GetReservationsForSpace",
        ],
        "ip_allow": "192.168.1.1-192.168.1.255;2001:db8::1",
        "daily_quota": 5000,
        "revoked_at": None,
    }
    table = cli("keys", "list").stdout
    assert table.splitlines()[0].split() == [
        "NAME",
        "STATUS",
        "WORKFLOWS",
        "IP",
        "ALLOW",
        "DAILY",
        "QUOTA",
        "CREATED",
        "REVOKED",
    ]
    for shown in (table, cli("keys", "list", "--json").stdout):
        assert secret not in shown and secret.lower() not in shown


def test_every_key_gets_its_own_secret(cli: Cli) -> None:
    first = secret_of(cli("keys", "create", "--name", "a").stdout)
    second = secret_of(cli("keys", "create", "--name", "b").stdout)
    assert first != second
    assert [key["workflows"] for key in cli.json("keys", "list")] == [None, None]


def test_revoke(cli: Cli) -> None:
    cli("keys", "create", "--name", "old")
    assert cli("keys", "revoke", "old").stdout == "revoked API key 'old'\n"
    [listed] = cli.json("keys", "list")
    assert listed["status"] == "revoked" and listed["revoked_at"] is not None
    assert cli("keys", "revoke", "old").stdout == "revoked API key 'old'\n"  # again: no change
    assert cli.json("keys", "list") == [listed]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--name", "taken"], "error: An API key named 'taken' already exists", id="name taken"
        ),
        pytest.param(["--name", "  "], "error: name is required.", id="blank name"),
        pytest.param(
            ["--name", "x", "--workflows", "book"],
            "error: Unknown workflow 'book'; choose from REST_CreateReservation",
            id="unknown workflow",
        ),
        pytest.param(
            ["--name", "x", "--workflows", ","],
            "error: Name at least one workflow",
            id="no workflow",
        ),
        pytest.param(
            ["--name", "x", "--ip-allow", "10.0.0.9-10.0.0.1"],
            "error: IP allow-list range '10.0.0.9-10.0.0.1' ends before it starts.",
            id="reversed range",
        ),
        pytest.param(
            ["--name", "x", "--ip-allow", "10.0.0.1,10.0.0.2"],
            "error: IP allow-list entry '10.0.0.1,10.0.0.2' is not an IPv4 or IPv6 address",
            id="comma separated",
        ),
        pytest.param(
            ["--name", "x", "--daily-quota", "-1"],
            "error: daily_quota must be between 0 and 1000000000, not -1.",
            id="negative quota",
        ),
    ],
)
def test_create_refusals_store_nothing(cli: Cli, args: list[str], message: str) -> None:
    cli("keys", "create", "--name", "taken")
    result = cli("keys", "create", *args, ok=False)
    assert result.stderr.startswith(message), result.stderr
    assert result.stdout == ""
    assert [key["name"] for key in cli.json("keys", "list")] == ["taken"]


def test_revoke_unknown(cli: Cli) -> None:
    assert cli("keys", "revoke", "ghost", ok=False).stderr == (
        "error: There is no API key named 'ghost'.\n"
    )


def roomline(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ROOMLINE_")}
    return subprocess.run(
        [sys.executable, "-m", "roomline", *args, "--database-url", database_url],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=120,
    )


def test_a_created_key_opens_the_workflows_until_revoked(database_url: str, tmp_path: Path) -> None:
    """As a user does it: the commands in a shell, then a client with the printed secret."""
    rooms = tmp_path / "rooms.csv"
    rooms.write_text("id,description,time_zone\nC-25,Meeting room 2,Pacific/Auckland\n")
    assert roomline(database_url, "spaces", "import", str(rooms)).returncode == 0
    created = roomline(database_url, "keys", "create", "--name", "panel", "--workflows", "get")
    assert created.returncode == 0, created.stderr
    secret = secret_of(created.stdout)

    server = start_server(database_url, tmp_path, command="serve")
    try:
        window = {"SpaceId": "C-25", "From": "2030-01-01 00:00:00", "Till": "2030-01-02 00:00:00"}
        answer = server.call("REST_GetReservationsForSpace", window, key=secret)
        assert (answer.status_code, answer.json()) == (
            200,
            {"properties": {"Output": {"collection": []}}},
        )
        refused = server.call("REST_CancelReservation", {"UltimoId": "1"}, key=secret)
        assert (refused.status_code, refused.json()["code"]) == (403, "WorkflowNotAllowed")

        revoked = roomline(database_url, "keys", "revoke", "panel")
        assert revoked.returncode == 0, revoked.stderr
        answer = server.call("REST_GetReservationsForSpace", window, key=secret)
        assert (answer.status_code, answer.json()) == (
            401,
            {"message": "Missing API key", "code": "MissingApiKey"},
        )
    finally:
        server.stop()


def test_create_grants_roomline_operations_beside_workflows(cli: Cli) -> None:
    result = cli("keys", "create", "--name", "finder", "--workflows", "get,series,FIND")
    assert "workflows: REST_GetReservationsForSpace, series, find\n" in result.stdout
    [listed] = cli.json("keys", "list")
    assert listed["workflows"] == ["REST_GetReservationsForSpace", "series", "find"]
