"""``roomline serve --no-access-log`` (or ROOMLINE_ACCESS_LOG=0) drops the per-request line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import socket
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from roomline.api import observability
from roomline.api.observability import JsonFormatter, LoopBatchedStreamHandler, RequestInfo
from tests.security.helpers import access_lines
from tests.support import ADMIN_TOKEN, Server, start_server

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


def test_request_lines_of_one_loop_turn_are_written_together_and_in_order() -> None:
    """The access handler writes once per event-loop turn; flush writes what is pending."""
    stream = io.StringIO()
    handler = LoopBatchedStreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("roomline.access", logging.INFO, __file__, 0, message, None, None)

    async def one_turn() -> list[str]:
        seen = []
        for number in range(3):
            handler.handle(record(f"line {number}"))
            seen.append(stream.getvalue())
        await asyncio.sleep(0)  # the loop's next turn
        seen.append(stream.getvalue())
        handler.handle(record("pending at shutdown"))
        return seen

    seen = asyncio.run(one_turn())
    assert seen == ["", "", "", "line 0\nline 1\nline 2\n"]
    handler.flush()  # logging.shutdown flushes every handler
    assert stream.getvalue().endswith("line 2\npending at shutdown\n")
    handler.handle(record("outside a loop"))  # no loop: written at once
    assert stream.getvalue().endswith("pending at shutdown\noutside a loop\n")


def test_a_request_line_written_directly_is_the_line_logging_would_write() -> None:
    """With ``roomline serve``'s own JSON handler a request line skips the LogRecord; with
    anything filtering it goes through logging. Both write the same line."""
    access = logging.getLogger("roomline.access")
    stream = io.StringIO()
    handler = LoopBatchedStreamHandler(stream)  # as logging_config("json", ...) sets it up
    handler.setFormatter(JsonFormatter())
    scope = {"method": "POST", "path": "/feeds/secret-token.ics"}
    info = RequestInfo("abc-00000001", "192.0.2.7", "door panel", "REST_CreateReservation")
    saved = access.handlers, access.level, access.propagate
    access.handlers, access.propagate = [handler], False
    access.setLevel(logging.INFO)
    try:
        assert observability._plain_json_lines() is handler
        observability._log_request(scope, info, 201, 0.012345)
        access.addFilter(lambda _record: True)  # logging must now run the filter
        assert observability._plain_json_lines() is None
        observability._log_request(scope, info, 201, 0.012345)
    finally:
        access.filters.clear()
        access.handlers, _, access.propagate = saved
        access.setLevel(saved[1])
    direct, through_logging = [json.loads(line) for line in stream.getvalue().splitlines()]
    for line in (direct, through_logging):
        assert line.pop("time")
    assert (
        direct
        == through_logging
        == {
            "level": "info",
            "logger": "roomline.access",
            "pid": os.getpid(),
            "message": "POST /feeds/***.ics 201 12.35ms",
            "request_id": "abc-00000001",
            "method": "POST",
            "path": "/feeds/***.ics",
            "status": 201,
            "duration_ms": 12.35,
            "client": "192.0.2.7",
            "key": "door panel",
            "workflow": "REST_CreateReservation",
        }
    )
    assert list(direct) == list(through_logging)  # the same order of fields too


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        pytest.param(
            "/api/V1/Action/REST_CreateReservation",
            "ApiKey: FC1555BA3F5C4C329155B5ADAC2E8AB0\r\nContent-Type: application/json\r\n",
            id="Ultimo workflow",
        ),
        pytest.param(
            "/api/manage/spaces/import",
            f"Authorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/json\r\n",
            id="management import",
        ),
        pytest.param(
            "/web/login", "Content-Type: application/x-www-form-urlencoded\r\n", id="web form"
        ),
    ],
)
def test_a_client_hanging_up_mid_body_is_no_server_error(
    server: Server, path: str, headers: str
) -> None:
    request_id = f"hang-up-{uuid.uuid4().hex[:8]}"
    address = urlsplit(server.base_url)
    with socket.create_connection((address.hostname, address.port)) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: roomline\r\nX-Request-Id: {request_id}\r\n{headers}"
            'Content-Length: 1000\r\n\r\n{"SpaceId": '.encode()
        )
        time.sleep(0.2)  # the server has read the headers and waits for the rest
    deadline = time.monotonic() + 10
    while not (lines := [e for e in access_lines(server) if e["request_id"] == request_id]):
        assert time.monotonic() < deadline, server.log()[-3000:]
        time.sleep(0.05)
    assert [(line["path"], line["status"]) for line in lines] == [(path, 499)]
    assert "Traceback" not in server.log()
    assert "ClientDisconnect" not in server.log()


def test_a_request_line_that_cannot_be_written_never_breaks_the_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A line the JSON writer refuses (here a lone surrogate in the path) goes to logging's
    own path, which reports it on standard error instead of raising into the request."""
    access = logging.getLogger("roomline.access")
    handler = LoopBatchedStreamHandler(io.StringIO())
    handler.setFormatter(JsonFormatter())
    reported: list[logging.LogRecord] = []
    monkeypatch.setattr(handler, "handleError", reported.append)
    monkeypatch.setattr(access, "handlers", [handler])
    monkeypatch.setattr(access, "propagate", False)
    info = RequestInfo("abc-00000002", None)
    observability._log_request({"method": "GET", "path": "/x\udc80"}, info, 404, 0.001)
    assert [record.args for record in reported] == [("GET", "/x\udc80", 404, 1.0)]
