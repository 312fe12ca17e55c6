"""The stand-in's controls (/api/demo) against a real demo on both databases, and their
absence from ``roomline serve``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from roomline.api.app import create_app
from roomline.api.standin_front import StandInFront
from roomline.config import Settings
from roomline.storage.database import Database
from tests.api.test_management import ok, refused
from tests.conftest import TEST_NOW
from tests.security.helpers import DEMO_GET, pids_after_both_workers_answered, spread_gets
from tests.support import DEMO_KEY, Server, start_server

GET = "REST_GetReservationsForSpace"
CREATE = "REST_CreateReservation"
C25_GET = {"SpaceId": "C-25", "From": "2030-01-01 00:00:00", "Till": "2030-12-31 00:00:00"}
FIXTURE = """\
clock = "2030-01-07T09:00:00Z"
next_ultimo_id = 500

[application_element_ids]
REST_CreateReservation = "11111111-2222-3333-4444-555555555555"

[[spaces]]
id = "R-1"
description = "Board room"
time_zone = "Europe/Amsterdam"
preparation_minutes = 15

[[people]]
id = "P-1"
name = "Doe, J."

[[keys]]
name = "panel"
secret = "0123456789abcdef0123456789abcdef"
workflows = ["REST_GetReservationsForSpace", "REST_CreateReservation"]

[[reservations]]
ultimo_id = 42
space_id = "R-1"
applicant_id = "P-1"
description = "Stand-up"
start = 2030-01-07T10:00:00
end = "2030-01-07T10:15:00+01:00"

[[reservations]]
space_id = "R-1"
applicant_id = "P-1"
status = "Cancelled"
start = "2030-01-07 10:00:00"
end = "2030-01-07 11:00:00"
"""


def collection(server: Server, body: dict[str, str] = C25_GET, key: str = DEMO_KEY) -> list[Any]:
    answer = ok(server.call(GET, body, key=key))
    return [
        (item["UltimoId"], item["StartTime"])
        for item in answer["properties"]["Output"]["collection"]
    ]


def wire_refusal(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def create(server: Server, day: int, **headers: str) -> Any:
    body = {
        "SpaceId": "C-25",
        "ApplicantId": "ULTIMO",
        "StartTime": f"2030-01-{day:02d} 10:00:00",
        "EndTime": f"2030-01-{day:02d} 11:00:00",
    }
    return server.call(CREATE, body, headers=headers)


def test_reset_brings_back_data_numbering_clock_faults_and_journal(server: Server) -> None:
    before = collection(server)
    assert before == []
    assert ok(create(server, 8)) == {"Properties": {"UltimoId": "00000006712"}}
    assert ok(create(server, 9)) == {"Properties": {"UltimoId": "00000006713"}}
    ok(server.call("REST_CancelReservation", {"UltimoId": "00000006712"}))
    ok(server.admin("POST", "/api/demo/clock/advance", json={"duration": "P1D"}))
    ok(server.admin("POST", "/api/demo/faults", json={"workflow": "*", "delay_ms": 1}), 201)
    ok(server.admin("POST", "/api/manage/people", json={"id": "X-1", "name": "Extra"}), 201)
    assert [ultimo_id for ultimo_id, _start in collection(server)] == ["00000006713"]

    assert server.admin("POST", "/api/demo/reset").status_code == 204

    assert collection(server) == before
    assert ok(server.admin("GET", "/api/demo/clock")) == {"now": TEST_NOW, "pinned": True}
    assert ok(server.admin("GET", "/api/demo/faults")) == []
    assert [e["workflow"] for e in ok(server.admin("GET", "/api/demo/requests"))] == [GET]
    assert [p["id"] for p in ok(server.admin("GET", "/api/manage/people"))] == ["ULTIMO"]
    assert ok(create(server, 8)) == {"Properties": {"UltimoId": "00000006712"}}
    assert server.admin("POST", "/api/demo/reset").status_code == 204


def test_advancing_the_clock(server: Server) -> None:
    try:
        advanced = server.admin("POST", "/api/demo/clock/advance", json={"seconds": 90.5})
        assert ok(advanced) == {"now": "2030-01-07T09:01:30.500000Z", "pinned": True}
        advanced = server.admin("POST", "/api/demo/clock/advance", json={"duration": "P1W"})
        assert ok(advanced)["now"] == "2030-01-14T09:01:30.500000Z"
        ok(server.admin("PUT", "/api/demo/clock", json={"shift_seconds": -3600}))
        running = ok(server.admin("POST", "/api/demo/clock/advance", json={"seconds": 7200}))
        assert running["pinned"] is False  # a running clock runs on, an hour ahead now
    finally:
        server.set_clock(TEST_NOW)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Give exactly one of 'seconds' and 'duration'."),
        ({"seconds": 1, "duration": "PT1S"}, "Give exactly one of 'seconds' and 'duration'."),
        ({"seconds": -5}, "seconds: Input should be greater than or equal to 0"),
        (
            {"duration": "P1M"},
            "duration 'P1M' uses months or years, which have no fixed length; give weeks or "
            "days (P30D).",
        ),
        (
            {"duration": "-PT1H"},
            "duration moves the clock forward, by at most a century; PUT /api/demo/clock sets "
            "it anywhere.",
        ),
        (
            {"duration": "soon"},
            "duration 'soon' is not an ISO 8601 duration such as PT1H or P1DT12H.",
        ),
        ({"days": 1}, "days: Extra inputs are not permitted"),
    ],
    ids=["nothing", "both", "backwards", "months", "negative", "not a duration", "unknown"],
)
def test_advancing_refuses_what_is_not_a_step_forward(
    server: Server, body: dict[str, Any], message: str
) -> None:
    response = server.admin("POST", "/api/demo/clock/advance", json=body)
    assert refused(response, 400, "InvalidParameter") == message
    assert ok(server.admin("GET", "/api/demo/clock"))["now"] == TEST_NOW


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"workflow": "REST_Teleport", "status": 500},
            "workflow 'REST_Teleport' is not one of REST_CreateReservation, "
            "REST_UpdateReservation, REST_CancelReservation, REST_GetReservationsForSpace, "
            "nor '*' for all.",
        ),
        ({"workflow": "*"}, "The fault does nothing: give 'status', 'delay_ms' or 'drop'."),
        (
            {"workflow": "*", "drop": True, "status": 500},
            "A dropped request gets no answer: give 'drop' or 'status'.",
        ),
        ({"workflow": "*", "body": {"a": 1}}, "Give the 'status' to answer the 'body' with."),
        ({"workflow": "*", "status": 700}, "status: Input should be less than or equal to 599"),
        (
            {"workflow": "*", "status": 500, "times": 0},
            "times: Input should be greater than or equal to 1",
        ),
        ({"status": 500}, "workflow: Field required"),
        (
            {"workflow": "*", "status": 500, "colour": "red"},
            "colour: Extra inputs are not permitted",
        ),
    ],
    ids=[
        "workflow",
        "nothing",
        "drop and status",
        "body alone",
        "status",
        "times",
        "no workflow",
        "unknown",
    ],
)
def test_a_fault_that_cannot_work_is_refused(
    server: Server, body: dict[str, Any], message: str
) -> None:
    response = server.admin("POST", "/api/demo/faults", json=body)
    assert refused(response, 400, "InvalidParameter") == message
    assert ok(server.admin("GET", "/api/demo/faults")) == []


def test_faults_are_listed_and_removed(server: Server) -> None:
    first = ok(
        server.admin(
            "POST", "/api/demo/faults", json={"workflow": "rest_createreservation", "status": 503}
        ),
        201,
    )
    second = ok(
        server.admin("POST", "/api/demo/faults", json={"workflow": "*", "delay_ms": 5, "times": 3}),
        201,
    )
    assert first == {
        "id": first["id"],
        "workflow": CREATE,
        "status": 503,
        "body": None,
        "retry_after": None,
        "delay_ms": 0,
        "drop": False,
        "times": None,
        "match": None,
        "fired": 0,
    }
    assert [f["id"] for f in ok(server.admin("GET", "/api/demo/faults"))] == [
        first["id"],
        second["id"],
    ]
    assert server.admin("DELETE", f"/api/demo/faults/{first['id']}").status_code == 204
    missing = server.admin("DELETE", f"/api/demo/faults/{first['id']}")
    assert refused(missing, 404, "RecordNotFound") == f"There is no fault {first['id']}."
    assert server.admin("DELETE", "/api/demo/faults").status_code == 204
    assert ok(server.admin("GET", "/api/demo/faults")) == []


def test_the_journal_is_bounded_filtered_and_cleared(server: Server) -> None:
    assert server.admin("DELETE", "/api/demo/requests").status_code == 204
    collection(server)
    server.call("REST_Teleport", {})
    server.client.get("/api/v1/action/rest_getreservationsforspace")
    listed = ok(server.admin("GET", "/api/demo/requests", params={"limit": 2}))
    assert [(e["method"], e["path"], e["workflow"], e["status"]) for e in listed] == [
        ("POST", "/api/V1/Action/REST_Teleport", "REST_Teleport", 404),
        ("GET", "/api/v1/action/rest_getreservationsforspace", GET, 405),
    ]
    gets = ok(server.admin("GET", "/api/demo/requests", params={"workflow": GET.lower()}))
    assert [e["method"] for e in gets] == ["POST", "GET"]
    too_many = server.admin("GET", "/api/demo/requests", params={"limit": 1001})
    assert refused(too_many, 400, "InvalidParameter").startswith("query.limit:")
    assert server.admin("DELETE", "/api/demo/requests").status_code == 204
    assert ok(server.admin("GET", "/api/demo/requests")) == []


def test_controls_refuse_callers_without_the_admin_token_and_cap_bodies(server: Server) -> None:
    body = b"{" + b" " * 100_000  # over the controls' own cap, under ROOMLINE_MAX_BODY_BYTES
    for method, path in DEMO_CONTROLS:
        response = server.client.request(method, path, content=body)
        assert refused(response, 401, "AdminTokenRequired")
    # Past ROOMLINE_MAX_BODY_BYTES every path refuses a body before anything else.
    huge = b"{" + b" " * 5_000_000
    for method, path in DEMO_CONTROLS:
        assert refused(server.client.request(method, path, content=huge), 413, "PayloadTooLarge")
    too_big = server.admin("POST", "/api/demo/faults", content=body)
    assert (
        refused(too_big, 413, "PayloadTooLarge") == "The request body is larger than 65536 bytes."
    )


def test_the_playground_documents_the_stand_in(server: Server) -> None:
    document = server.client.get("/openapi.json").json()
    demo = {
        (method.upper(), path): operation
        for path, operations in document["paths"].items()
        if path.startswith("/api/demo")
        for method, operation in operations.items()
    }
    assert set(demo) == set(DEMO_CONTROLS)
    assert all(operation["tags"] == ["Stand-in"] for operation in demo.values())
    fault_body = demo[("POST", "/api/demo/faults")]["requestBody"]["content"]["application/json"]
    assert fault_body["schema"]["properties"]["workflow"]["type"] == "string"
    schemes = document["components"]["securitySchemes"]
    assert "FC1555BA3F5C4C329155B5ADAC2E8AB0" in schemes["APIKeyHeader"]["description"]
    assert "the one `roomline demo` printed at start" in schemes["HTTPBearer"]["description"]


DEMO_CONTROLS = {
    ("GET", "/api/demo/clock"),
    ("PUT", "/api/demo/clock"),
    ("POST", "/api/demo/clock/advance"),
    ("POST", "/api/demo/reset"),
    ("GET", "/api/demo/faults"),
    ("POST", "/api/demo/faults"),
    ("DELETE", "/api/demo/faults"),
    ("DELETE", "/api/demo/faults/{fault_id}"),
    ("GET", "/api/demo/requests"),
    ("DELETE", "/api/demo/requests"),
}


def test_none_of_it_exists_on_serve(database_url: str, tmp_path: Path) -> None:
    served = start_server(database_url, tmp_path, command="serve")
    try:
        for method, path in DEMO_CONTROLS:
            response = served.admin(method, path.replace("{fault_id}", "1"), json={"workflow": "*"})
            assert refused(response, 404, "NotFound") == "No such path."
        document = served.client.get("/openapi.json").json()
        assert not [path for path in document["paths"] if path.startswith("/api/demo")]
        assert "This demo's key" not in str(document["components"]["securitySchemes"])
        served.call(GET, DEMO_GET, key="0" * 32)  # a workflow request journals nothing
    finally:
        served.stop()
    database = Database(database_url)
    try:
        tables = inspect(database.engine).get_table_names()
    finally:
        database.dispose()
    assert "reservations" in tables
    assert not [name for name in tables if name.startswith("standin_")]


def test_a_fixture_is_served_and_reset_to(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "standin.toml"
    path.write_text(FIXTURE)
    demo = start_server(database_url, tmp_path, "--fixture", str(path))
    key = "0123456789ABCDEF0123456789ABCDEF"
    window = {"SpaceId": "R-1", "From": "2030-01-07 00:00:00", "Till": "2030-01-08 00:00:00"}
    guid = {"ApplicationElementId": "11111111-2222-3333-4444-555555555555"}
    book = {
        "SpaceId": "R-1",
        "ApplicantId": "P-1",
        "StartTime": "2030-01-07 12:00:00",
        "EndTime": "2030-01-07 13:00:00",
    }
    try:
        assert collection(demo, window, key) == [
            ("00000000042", "2030-01-07T10:00:00.000000+01:00")
        ]
        wrong_guid = demo.call(CREATE, book, key=key)
        assert wire_refusal(wrong_guid) == (400, "InvalidApplicationElementId")
        created = demo.call(CREATE, book, key=key, element_id=False, headers=guid)
        assert ok(created) == {"Properties": {"UltimoId": "00000000500"}}
        cancel = demo.call("REST_CancelReservation", {"UltimoId": "42"}, key=key)
        assert wire_refusal(cancel) == (403, "WorkflowNotAllowed")
        assert wire_refusal(demo.call(GET, window)) == (401, "MissingApiKey")  # no demo key
        assert ok(demo.admin("GET", "/api/demo/clock")) == {"now": TEST_NOW, "pinned": True}
        schemes = demo.client.get("/openapi.json").json()["components"]["securitySchemes"]
        assert f"{key} (panel)" in schemes["APIKeyHeader"]["description"]

        assert demo.admin("POST", "/api/demo/reset").status_code == 204
        assert collection(demo, window, key) == [
            ("00000000042", "2030-01-07T10:00:00.000000+01:00")
        ]
        created = demo.call(CREATE, book, key=key, element_id=False, headers=guid)
        assert ok(created) == {"Properties": {"UltimoId": "00000000500"}}
    finally:
        demo.stop()


def test_faults_are_counted_once_across_workers(database_url: str, tmp_path: Path) -> None:
    demo = start_server(database_url, tmp_path, "--workers", "2")
    try:
        ok(
            demo.admin(
                "POST", "/api/demo/faults", json={"workflow": GET, "status": 503, "times": 2}
            ),
            201,
        )
        answers = spread_gets(demo, DEMO_KEY, count=12)

        def send_more() -> None:
            answers.extend(spread_gets(demo, DEMO_KEY, count=12))

        # Both workers answered normally: had each counted on its own, each would have
        # answered its first two with 503.
        pids = pids_after_both_workers_answered(
            demo, lambda line: line["workflow"] == GET and line["status"] == 200, send_more
        )
        assert len(pids) == 2
        assert (
            sorted(answer.status_code for answer in answers)
            == [200] * (len(answers) - 2) + [503] * 2
        )
        assert [f["fired"] for f in ok(demo.admin("GET", "/api/demo/faults"))] == [2]
        journal = ok(demo.admin("GET", "/api/demo/requests", params={"limit": 1000}))
        assert len(journal) == len(answers)
        assert sorted(e["status"] for e in journal if e["fault"]) == [503, 503]
    finally:
        demo.stop()


def test_request_limits_count_in_the_demo_clock(database_url: str, tmp_path: Path) -> None:
    limits = {"ROOMLINE_RATE_LIMIT": "2/60 seconds", "ROOMLINE_DAILY_QUOTA": "3"}
    demo = start_server(database_url, tmp_path, "--now", TEST_NOW, env=limits)

    def get() -> tuple[int, str | None, str | None]:
        response = demo.call(GET, DEMO_GET)
        return (
            response.status_code,
            response.headers.get("retry-after"),
            response.json().get("code"),
        )

    def advance(duration: str) -> None:
        ok(demo.admin("POST", "/api/demo/clock/advance", json={"duration": duration}))

    try:
        assert [get(), get(), get()] == [(200, None, None)] * 2 + [(429, "60", "TooManyRequests")]
        advance("PT61S")  # the moving window moves with the pinned clock only
        assert [get(), get()] == [(200, None, None), (429, "53939", "TooManyRequests")]
        advance("P1D")  # a new day for the daily quota
        assert get() == (200, None, None)
        assert demo.admin("POST", "/api/demo/reset").status_code == 204
        assert [get(), get(), get()] == [(200, None, None)] * 2 + [(429, "60", "TooManyRequests")]
    finally:
        demo.stop()


@pytest.mark.parametrize("demo", [True, False], ids=["demo", "serve"])
def test_only_a_demo_has_the_hooks_on_its_front(tmp_path: Path, demo: bool) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'front.db'}", demo=demo))
    try:
        assert isinstance(app.front, StandInFront) is demo
    finally:
        app.state.database.dispose()


@pytest.mark.parametrize(
    ("method", "path", "body", "message"),
    [
        (
            "POST",
            "/api/demo/faults",
            {"workflow": "*", "status": 500, "drop": 0},
            "drop: Input should be a valid boolean",
        ),
        (
            "POST",
            "/api/demo/faults",
            {"workflow": "*", "status": "500"},
            "status: Input should be a valid integer",
        ),
        (
            "POST",
            "/api/demo/clock/advance",
            {"seconds": "60"},
            "seconds: Input should be a valid number",
        ),
        (
            "DELETE",
            "/api/demo/faults/530214232964634650682996031488",
            None,
            "path.fault_id: Input should be less than or equal to 2147483647",
        ),
    ],
    ids=["0 for false", "text for a number", "text for seconds", "an id past any column"],
)
def test_fuzzing_findings_on_the_controls(
    server: Server, method: str, path: str, body: Any, message: str
) -> None:
    response = server.admin(method, path, json=body)
    assert refused(response, 400, "InvalidParameter") == message
    assert ok(server.admin("GET", "/api/demo/faults")) == []
