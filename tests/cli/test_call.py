"""``roomline call``: the client from the command line, against a real demo server."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from click.testing import Result
from typer.testing import CliRunner

from roomline.cli import app
from tests.conftest import World
from tests.support import DEMO_KEY, Server, free_port


def call(server: Server, *args: str, key: str = DEMO_KEY, code: int = 0) -> Result:
    """Run ``roomline call *args`` with the server and key from the environment."""
    result = CliRunner().invoke(
        app,
        ["call", *args],
        env={"ROOMLINE_CALL_BASE_URL": server.base_url, "ROOMLINE_CALL_API_KEY": key},
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == code, result.output
    return result


def error_of(result: Result) -> dict[str, object]:
    assert result.stdout == ""
    body = json.loads(result.stderr)
    assert list(body) == ["error"]
    error: dict[str, object] = body["error"]
    return error


def test_create_get_update_cancel(server: Server, world: World) -> None:
    space, person = world.space(prep=10), world.person("Doe, J.")
    created = call(
        server,
        "create",
        "--space",
        space.id,
        "--start",
        "2030-01-08 09:00:00",
        "--end",
        "2030-01-08T09:00:00Z",
        "--applicant",
        person.id,
        "--description",
        "Stand-up",
        "--external-id",
        f"cli-{space.id}",
    )
    ultimo_id = json.loads(created.stdout)["ultimo_id"]
    assert created.stdout == json.dumps({"ultimo_id": ultimo_id}, indent=2) + "\n"

    window = ["--space", space.id, "--from", "2030-01-08 00:00:00", "--till", "2030-01-09 00:00:00"]
    listed = json.loads(call(server, "get", *window).stdout)
    assert listed == [
        {
            "ultimo_id": ultimo_id,
            "description": "Stand-up",
            "applicant_id": person.id,
            "applicant_name": "Doe, J.",
            "start": "2030-01-08T09:00:00+01:00",
            "end": "2030-01-08T10:00:00+01:00",
            "start_including_preparation": "2030-01-08T08:50:00+01:00",
            "end_including_cleanup": "2030-01-08T10:00:00+01:00",
            "status": "Processed",
        }
    ]

    updated = call(server, "update", ultimo_id, "--end", "2030-01-08 11:00:00")
    assert json.loads(updated.stdout) == {"ultimo_id": ultimo_id, "result": "updated"}
    assert json.loads(call(server, "get", *window).stdout)[0]["end"] == "2030-01-08T11:00:00+01:00"

    cancelled = call(server, "cancel", ultimo_id)
    assert json.loads(cancelled.stdout) == {"ultimo_id": ultimo_id, "result": "cancelled"}
    assert json.loads(call(server, "get", *window).stdout) == []


def test_options_win_over_the_environment(server: Server) -> None:
    result = CliRunner().invoke(
        app,
        [
            "call",
            "get",
            "--space",
            "C-25",
            "--from",
            "2021-04-20 00:00:00",
            "--till",
            "2021-04-21 00:00:00",
            "--base-url",
            server.base_url,
            "--api-key",
            DEMO_KEY,
        ],
        env={"ROOMLINE_CALL_BASE_URL": "http://127.0.0.1:1", "ROOMLINE_CALL_API_KEY": "0" * 32},
    )
    assert result.exit_code == 0, result.output
    assert [item["ultimo_id"] for item in json.loads(result.stdout)] == ["00000006710"]


def test_refusals_print_the_typed_error(server: Server, world: World) -> None:
    space, person = world.space(description="Quiet room"), world.person()
    booking = ["--space", space.id, "--applicant", person.id]
    times = ["--start", "2030-01-08 09:00:00", "--end", "2030-01-08 10:00:00"]
    call(server, "create", *booking, *times)
    taken = call(server, "create", *booking, *times, code=1)
    assert error_of(taken) == {
        "code": "1015",
        "message": "Room reservation cannot be requested or processed.\r\n"
        "Cause: Quiet room is not available.",
        "status": 400,
    }
    assert error_of(call(server, "cancel", "00000006710", code=1))["code"] == "1166"
    assert error_of(call(server, "cancel", "1", key="0" * 32, code=1)) == {
        "code": "MissingApiKey",
        "message": "Missing API key",
        "status": 401,
    }
    bad_time = call(server, "get", "--space", space.id, "--from", "soon", "--till", "later", code=1)
    assert error_of(bad_time)["code"] == "InvalidDateTime"


def test_update_needs_a_time(server: Server) -> None:
    result = call(server, "update", "00000006711", code=2)
    assert "give --start, --end or both" in result.stderr


def test_unreachable_server_is_reported(server: Server) -> None:
    result = CliRunner().invoke(
        app,
        ["call", "cancel", "1", "--attempts", "1"],
        env={
            "ROOMLINE_CALL_BASE_URL": f"http://127.0.0.1:{free_port()}",
            "ROOMLINE_CALL_API_KEY": DEMO_KEY,
        },
    )
    assert result.exit_code == 1
    error = error_of(result)
    assert (error["code"], error["status"]) == ("ConnectionFailed", None)


def test_retries_are_announced_on_standard_error() -> None:
    base_url = f"http://127.0.0.1:{free_port()}"  # nothing listens: refused at once
    result = CliRunner().invoke(
        app,
        ["call", "cancel", "1"],
        env={"ROOMLINE_CALL_BASE_URL": base_url, "ROOMLINE_CALL_API_KEY": DEMO_KEY},
    )
    assert result.exit_code == 1 and result.stdout == ""
    *notices, last = result.stderr.splitlines()
    assert [re.sub(r"again in \d+\.\d s", "again in N s", line) for line in notices] == [
        f"roomline call: REST_CancelReservation could not reach {base_url} ([Errno 111] "
        f"Connection refused); trying again in N s (try {attempt} of 3; at most {left} s "
        "more of waiting before giving up)"
        for attempt, left in ((2, "1.5"), (3, "1.0"))
    ]
    assert json.loads(last)["error"]["code"] == "ConnectionFailed"


@pytest.mark.parametrize("subcommand", ["create", "update", "cancel", "get"])
def test_help_names_the_workflow(subcommand: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "roomline", "call", subcommand, "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={"COLUMNS": "200", "PATH": ""},
    )
    workflow = {
        "create": "REST_CreateReservation",
        "update": "REST_UpdateReservation",
        "cancel": "REST_CancelReservation",
        "get": "REST_GetReservationsForSpace",
    }[subcommand]
    assert workflow in result.stdout
    assert "ROOMLINE_CALL_API_KEY" in result.stdout
