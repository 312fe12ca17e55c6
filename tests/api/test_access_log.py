"""``roomline serve --no-access-log`` (or ROOMLINE_ACCESS_LOG=0) drops the per-request line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.security.helpers import access_lines
from tests.support import start_server

GET = "REST_GetReservationsForSpace"


@pytest.mark.parametrize(
    ("args", "env", "logged"),
    [
        pytest.param((), {}, True, id="default: one line per request"),
        pytest.param(("--no-access-log",), {}, False, id="--no-access-log"),
        pytest.param((), {"ROOMLINE_ACCESS_LOG": "0"}, False, id="ROOMLINE_ACCESS_LOG=0"),
    ],
)
def test_the_access_log_can_be_switched_off(
    database_url: str, tmp_path: Path, make_world, args: tuple[str, ...], env: dict, logged: bool
) -> None:
    world = make_world(database_url)
    server = start_server(database_url, tmp_path, *args, command="serve", env=env)
    try:
        space, key = world.space(), world.key()
        body = {"SpaceId": space.id, "From": "2031-01-01 00:00:00", "Till": "2031-01-02 00:00:00"}
        assert server.call(GET, body, key=key).status_code == 200
        assert server.call(GET, body, key="0" * 32).status_code == 401
    finally:
        server.stop()
    workflow_lines = [line for line in access_lines(server) if line.get("workflow") == GET]
    assert len(workflow_lines) == (2 if logged else 0)
