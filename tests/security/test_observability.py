"""Request ids and structured logs through the real server; secrets never reach the log."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TEST_NOW
from tests.security.helpers import DEMO_GET, GET, access_lines, make_key
from tests.support import Server, start_server

MADE_UP = re.compile(r"[0-9a-f]{16}-[0-9a-f]{8,}")


@pytest.fixture
def logged_server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    running = start_server(
        database_url, tmp_path, "--now", TEST_NOW, env={"ROOMLINE_KEY_RATE_LIMIT": "12/hour"}
    )
    yield running
    running.stop()


def test_every_response_carries_a_request_id(logged_server: Server) -> None:
    answers = [
        logged_server.call(GET, DEMO_GET),
        logged_server.call(GET, DEMO_GET, key="0" * 32),
        logged_server.call("REST_NoSuchWorkflow", {}),
        logged_server.client.get("/healthz"),
        logged_server.client.get("/no/such/path"),
        logged_server.client.get("/api/manage/audit"),
    ]
    assert [answer.status_code for answer in answers] == [200, 401, 404, 200, 404, 401]
    ids = [answer.headers["X-Request-Id"] for answer in answers]
    assert all(MADE_UP.fullmatch(one) for one in ids), ids
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        pytest.param("panel-7f3a.42", True, id="sane id kept"),
        pytest.param("Root=1-5759e988-bd862e3fe1be46a994272793", True, id="trace id kept"),
        pytest.param("x" * 129, False, id="too long replaced"),
        pytest.param("two words", False, id="space replaced"),
        pytest.param('{"json": 1}', False, id="punctuation replaced"),
    ],
)
def test_a_sane_incoming_request_id_is_honoured(
    logged_server: Server, sent: str, kept: bool
) -> None:
    answer = logged_server.call(GET, DEMO_GET, headers={"X-Request-Id": sent})
    returned = answer.headers["X-Request-Id"]
    assert returned == sent if kept else MADE_UP.fullmatch(returned)


def test_one_json_log_line_per_request(logged_server: Server) -> None:
    name, secret = make_key(logged_server.database_url, name="lobby-panel")
    answer = logged_server.call(GET, DEMO_GET, key=secret, headers={"X-Request-Id": "obs-1"})
    assert answer.status_code == 200
    logged_server.stop()  # flush and close the log
    lines = [line for line in access_lines(logged_server) if line["request_id"] == "obs-1"]
    assert len(lines) == 1
    line = lines[0]
    assert isinstance(line.pop("duration_ms"), float | int)
    assert isinstance(line.pop("pid"), int)
    assert line.pop("time").startswith("20")
    assert line == {
        "level": "info",
        "logger": "roomline.access",
        "message": line["message"],
        "request_id": "obs-1",
        "method": "POST",
        "path": f"/api/V1/Action/{GET}",
        "status": 200,
        "client": "127.0.0.1",
        "key": name,
        "workflow": GET,
    }
    assert line["message"].startswith(f"POST /api/V1/Action/{GET} 200 ")


def test_an_api_key_secret_never_reaches_the_log(logged_server: Server) -> None:
    name, secret = make_key(logged_server.database_url, name="secret-keeper")
    limited_name, limited = make_key(logged_server.database_url, ip_allow="10.9.9.9")
    requests = [
        (GET, DEMO_GET, {}),
        (GET, b"{not json", {}),
        (GET, {"SpaceId": "nowhere", "From": "x", "Till": "y"}, {}),
        ("REST_CreateReservation", {"SpaceId": "C-25"}, {}),
        (
            "REST_UpdateReservation",
            {"UltimoId": "99999999999", "EndTime": "2031-01-01 10:00:00"},
            {},
        ),
        ("REST_CancelReservation", {"UltimoId": "abc"}, {}),
        (GET, DEMO_GET, {"ApplicationElementId": "00000000-0000-0000-0000-000000000000"}),
        ("REST_NoSuchWorkflow", {}, {}),
    ]
    statuses = []
    for workflow, body, headers in requests:
        statuses.append(logged_server.call(workflow, body, key=secret, headers=headers).status_code)
    # The same secret, lower-case or damaged, and a key refused for its address.
    statuses.append(logged_server.call(GET, DEMO_GET, key=secret.lower()).status_code)
    statuses.append(logged_server.call(GET, DEMO_GET, key=secret[:-1] + "G").status_code)
    statuses.append(logged_server.call(GET, DEMO_GET, key=limited).status_code)
    statuses += [logged_server.call(GET, DEMO_GET, key=secret).status_code for _ in range(6)]
    # 12 requests per hour: 7 above and the lower-case one counted (not the unknown workflow).
    expected = [200, 400, 400, 400, 400, 400, 400, 404, 200, 401, 403] + [200] * 4 + [429] * 2
    assert statuses == expected
    logged_server.stop()

    log = logged_server.log()
    assert name in log and limited_name in log  # the lines name the keys ...
    for text in (secret, limited):
        assert text.lower() not in log.lower()  # ... and never their secrets
