"""Hostile input, by hand: every request here is refused with a clear 4xx JSON error and
leaves the stored reservations, spaces, people and keys exactly as they were.

The cases go beyond the error catalogue's own tests (tests/compat/test_requests.py): each
kind of hostility is tried on every workflow it applies to, and after each request the
whole watched state is compared, not a count.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from roomline.storage.database import Database
from tests.conftest import TEST_NOW
from tests.reliability.stored import snapshot
from tests.support import ADMIN_TOKEN, DEMO_KEY, ELEMENT_IDS, Server, start_server

CREATE = "REST_CreateReservation"
UPDATE = "REST_UpdateReservation"
CANCEL = "REST_CancelReservation"
GET = "REST_GetReservationsForSpace"
HUGE = "x" * 100_000
# C-25 (Pacific/Auckland, no preparation or cleanup) is free on this day.
START, END = "2030-02-04 10:00:00", "2030-02-04 11:00:00"


@pytest.fixture(scope="module")
def database(server: Server) -> Iterator[Database]:
    db = Database(server.database_url)
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def strict_server(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory, server: Server
) -> Iterator[Server]:
    """A strict demo server on the same database as ``server``."""
    running = start_server(
        module_database_url, tmp_path_factory.mktemp("strict"), "--now", TEST_NOW, "--strict"
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def booked(server: Server) -> str:
    """A future reservation, for hostile updates and cancels to aim at."""
    booking = {"StartTime": "2030-02-05 10:00:00", "EndTime": "2030-02-05 11:00:00"}
    response = server.call(CREATE, valid(CREATE) | booking)
    assert response.status_code == 200, response.text
    return str(response.json()["Properties"]["UltimoId"])


def valid(workflow: str, ultimo_id: str = "00000006712") -> dict[str, str]:
    """A body the workflow would accept (on a fresh day, for an existing reservation)."""
    return {
        CREATE: {
            "ExternalId": "",
            "Description": "Hostile test",
            "SpaceId": "C-25",
            "StartTime": START,
            "EndTime": END,
            "ApplicantId": "ULTIMO",
        },
        UPDATE: {"UltimoId": ultimo_id, "StartTime": START, "EndTime": END},
        CANCEL: {"UltimoId": ultimo_id},
        GET: {"SpaceId": "C-25", "From": START, "Till": END},
    }[workflow]


def nested(depth: int) -> Any:
    value: Any = "C-25"
    for _ in range(depth):
        value = {"x": value}
    return value


def assert_refused(
    database: Database,
    send: Any,
    status: int,
    code: str | None,
) -> httpx.Response:
    """Send, and check the answer is a 4xx JSON error and nothing stored changed."""
    before = snapshot(database)
    response: httpx.Response = send()
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert isinstance(body["message"], str) and body["message"]
    if code is not None:
        assert body["code"] == code, body
    assert snapshot(database) == before
    return response


# ---- bodies ---------------------------------------------------------------------------

RAW_BODIES = [
    pytest.param(b"not json", "InvalidBody", id="text"),
    pytest.param(b'{"SpaceId": "C-25"', "InvalidBody", id="truncated"),
    pytest.param(b"<Reservation><SpaceId>C-25</SpaceId></Reservation>", "InvalidBody", id="xml"),
    pytest.param(b"SpaceId=C-25&From=2030", "InvalidBody", id="form"),
    pytest.param(b"", "InvalidBody", id="empty"),
    pytest.param(b" \r\n\t ", "InvalidBody", id="white space"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, "InvalidBody", id="nested arrays 100000"),
    pytest.param(b'{"a":' * 5_000 + b"1" + b"}" * 5_000, "InvalidBody", id="nested objects 5000"),
    pytest.param(b"[]", "InvalidBody", id="empty array"),
    pytest.param(b'[{"SpaceId": "C-25"}]', "InvalidBody", id="array of object"),
    pytest.param(b"null", "InvalidBody", id="null"),
    pytest.param(b"42", "InvalidBody", id="number"),
    pytest.param(b"true", "InvalidBody", id="boolean"),
    pytest.param(b'"C-25"', "InvalidBody", id="string"),
    pytest.param(b'{"SpaceId": "C-25"}\x00', "InvalidBody", id="NUL after the object"),
    pytest.param(b'{"SpaceId": "C-\x0025"}', "InvalidBody", id="raw NUL in a string"),
    pytest.param(b'{"SpaceId": "\xff\xfe"}', "InvalidBody", id="invalid UTF-8"),
    pytest.param(b'{"SpaceId": "\xc0\xaf"}', "InvalidBody", id="overlong UTF-8"),
    pytest.param(b'{"SpaceId": "\xed\xa0\x80"}', "InvalidBody", id="UTF-8 encoded surrogate"),
    pytest.param(b'{"SpaceId": "\\ud800"}', "InvalidBody", id="lone surrogate escape"),
    pytest.param('{"SpaceId": "C-25"}'.encode("utf-16"), "InvalidBody", id="UTF-16"),
    pytest.param(b'{"SpaceId": NaN}', "InvalidBody", id="NaN"),
    pytest.param(b'{"SpaceId": 1e999}', "InvalidBody", id="infinite number"),
    pytest.param(b"{'SpaceId': 'C-25'}", "InvalidBody", id="single quotes"),
]


@pytest.mark.parametrize("workflow", [CREATE, UPDATE, CANCEL, GET])
@pytest.mark.parametrize(("raw", "code"), RAW_BODIES)
def test_bodies_that_are_no_json_object(
    server: Server, database: Database, workflow: str, raw: bytes, code: str
) -> None:
    assert_refused(database, lambda: server.call(workflow, raw), 400, code)


def test_a_name_given_twice_is_refused(server: Server, database: Database, booked: str) -> None:
    # orjson keeps the last of two equal names; a proxy may have read the first.
    raw = f'{{"UltimoId": "{booked}", "UltimoId": "00000000001"}}'.encode()
    response = assert_refused(database, lambda: server.call(CANCEL, raw), 400, "DuplicateParameter")
    assert response.json()["message"] == "Property 'UltimoId' is given twice."


# ---- values ---------------------------------------------------------------------------


def _value_cases() -> Iterator[Any]:
    wrong_values: list[tuple[str, Any, str]] = [
        ("null", None, "RequiredParameterMissing"),
        ("number", 25, "InvalidParameter"),
        ("float", 0.5, "InvalidParameter"),
        ("boolean", True, "InvalidParameter"),
        ("array", ["C-25"], "InvalidParameter"),
        ("object", {"id": "C-25"}, "InvalidParameter"),
        ("nested 500 deep", nested(500), "InvalidParameter"),
        ("100000 characters", HUGE, "InvalidParameter"),
        ("NUL", "C-25\x00", "InvalidParameter"),
        ("escape", "\x1b[31mC-25", "InvalidParameter"),
        ("DEL", "C-25\x7f", "InvalidParameter"),
        ("blank", "   ", "RequiredParameterMissing"),
    ]
    required = {
        CREATE: ("SpaceId", "StartTime", "EndTime", "ApplicantId"),
        UPDATE: ("UltimoId",),
        CANCEL: ("UltimoId",),
        GET: ("SpaceId", "From", "Till"),
    }
    for workflow, fields in required.items():
        for field in fields:
            for label, value, code in wrong_values:
                yield pytest.param(workflow, field, value, code, id=f"{workflow} {field} {label}")
    for field in ("ExternalId", "Description"):
        for label, value, code in wrong_values:
            if value is None or label == "blank" or (field == "Description" and label == "NUL"):
                continue  # optional: null and blank mean "none"; NUL is refused below
            yield pytest.param(CREATE, field, value, code, id=f"{CREATE} {field} {label}")
    yield pytest.param(CREATE, "Description", "a\x00b", "InvalidParameter", id="Description NUL")


@pytest.mark.parametrize(("workflow", "field", "value", "code"), list(_value_cases()))
def test_values_that_are_not_acceptable_text(
    server: Server,
    database: Database,
    booked: str,
    workflow: str,
    field: str,
    value: Any,
    code: str,
) -> None:
    body: dict[str, Any] = valid(workflow, booked) | {field: value}
    assert_refused(database, lambda: server.call(workflow, body), 400, code)


SQL = [
    "C-25' OR '1'='1",
    "C-25'; DROP TABLE reservations; --",
    'C-25" OR ""="',
    "1; DELETE FROM spaces",
    "' UNION SELECT secret_hash FROM api_keys --",
    "%' OR 1=1 --",
]


@pytest.mark.parametrize("text", SQL)
@pytest.mark.parametrize(
    ("workflow", "field", "code"),
    [
        (CREATE, "SpaceId", "UnknownSpace"),
        (CREATE, "ApplicantId", "UnknownApplicant"),
        (GET, "SpaceId", "UnknownSpace"),
        (UPDATE, "UltimoId", "InvalidParameter"),
        (CANCEL, "UltimoId", "InvalidParameter"),
        (CREATE, "StartTime", "InvalidDateTime"),
        (GET, "Till", "InvalidDateTime"),
    ],
)
def test_sql_looking_text_is_only_text(
    server: Server,
    database: Database,
    booked: str,
    workflow: str,
    field: str,
    code: str,
    text: str,
) -> None:
    body = valid(workflow, booked) | {field: text}
    assert_refused(database, lambda: server.call(workflow, body), 400, code)


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01 00:00:00",
        "0001-01-01T00:00:00+14:00",
        "1899-12-31 23:59:59",
        "9999-12-31 23:59:59",
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59.9999999-14:00",
        "10000-01-01 00:00:00",
        "0000-00-00 00:00:00",
        "2030-02-30 10:00:00",
        "2030-02-04 24:00:00",
        "2030-02-04 10:00:00+18:01",
        "٢٠٣٠-٠٢-٠٤ ١٠:٠٠:٠٠",  # Arabic-Indic digits are digits to Python, not to Ultimo
        "2030-02-04T10:00:00\u200b",
    ],
)
@pytest.mark.parametrize(
    ("workflow", "field"),
    [(CREATE, "StartTime"), (CREATE, "EndTime"), (UPDATE, "EndTime"), (GET, "From"), (GET, "Till")],
)
def test_times_out_of_range_or_impossible(
    server: Server, database: Database, booked: str, workflow: str, field: str, value: str
) -> None:
    body = valid(workflow, booked) | {field: value}
    assert_refused(database, lambda: server.call(workflow, body), 400, "InvalidDateTime")


@pytest.mark.parametrize(
    ("workflow", "start_field", "end_field", "start", "end"),
    [
        (GET, "From", "Till", "2030-02-05 10:00:00", "2030-02-04 10:00:00"),
        (GET, "From", "Till", START, START),
        (GET, "From", "Till", "1900-01-01T00:00:00Z", "9998-12-31T23:59:59Z"),
        (CREATE, "StartTime", "EndTime", END, START),
        (CREATE, "StartTime", "EndTime", START, START),
        (UPDATE, "StartTime", "EndTime", END, START),
    ],
    ids=[
        "From after Till",
        "From equals Till",
        "window too large",
        "create reversed",
        "empty",
        "update reversed",
    ],
)
def test_time_spans_the_wrong_way_round(
    server: Server,
    database: Database,
    booked: str,
    workflow: str,
    start_field: str,
    end_field: str,
    start: str,
    end: str,
) -> None:
    body = valid(workflow, booked) | {start_field: start, end_field: end}
    code = "WindowTooLarge" if start.startswith("1900") else "InvalidTimeSpan"
    assert_refused(database, lambda: server.call(workflow, body), 400, code)


# ---- content type ---------------------------------------------------------------------

CONTENT_TYPES = [
    pytest.param(None, id="missing"),
    pytest.param("text/plain", id="text/plain"),
    pytest.param("application/x-www-form-urlencoded", id="form"),
    pytest.param("application/xml", id="xml"),
    pytest.param("application/jsonx", id="jsonx"),
    pytest.param("multipart/form-data; boundary=x", id="multipart"),
]


def _post(server: Server, workflow: str, raw: bytes, content_type: str | None) -> httpx.Response:
    headers = {"ApiKey": DEMO_KEY, "ApplicationElementId": ELEMENT_IDS[workflow]}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return server.client.post(f"/api/V1/Action/{workflow}", content=raw, headers=headers)


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
@pytest.mark.parametrize("workflow", [CREATE, GET])
def test_strict_mode_refuses_json_not_sent_as_json(
    strict_server: Server, database: Database, workflow: str, content_type: str | None
) -> None:
    raw = json.dumps(valid(workflow)).encode()
    response = assert_refused(
        database, lambda: _post(strict_server, workflow, raw, content_type), 415, None
    )
    assert response.json() == {
        "message": "Send the body with Content-Type: application/json (strict mode).",
        "type": "3",
        "code": "UnsupportedMediaType",
    }


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_tolerant_mode_reads_the_body_whatever_its_content_type(
    server: Server, database: Database, content_type: str | None
) -> None:
    # docs/behaviour.md: tolerant mode accepts any Content-Type when the body is a JSON
    # object; one that is not JSON is refused as a body, whatever it claims to be.
    assert_refused(
        database, lambda: _post(server, CREATE, b"SpaceId=C-25", content_type), 400, "InvalidBody"
    )
    response = _post(server, GET, json.dumps(valid(GET)).encode(), content_type)
    assert response.status_code == 200, response.text


# ---- methods --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"])
@pytest.mark.parametrize("workflow", [CREATE, UPDATE, CANCEL, GET, "REST_Nonexistent"])
def test_methods_other_than_post(
    server: Server, database: Database, workflow: str, method: str
) -> None:
    def send() -> httpx.Response:
        return server.client.request(
            method,
            f"/api/V1/Action/{workflow}",
            content=json.dumps(valid(CREATE)),
            headers={"ApiKey": DEMO_KEY, "Content-Type": "application/json"},
        )

    response = assert_refused(database, send, 405, "MethodNotAllowed")
    assert response.headers["allow"] == "POST"
    assert response.json()["message"] == "This path accepts only POST."


def test_head_is_refused_without_a_body(server: Server, database: Database) -> None:
    before = snapshot(database)
    response = server.client.head(f"/api/V1/Action/{CREATE}", headers={"ApiKey": DEMO_KEY})
    assert (response.status_code, response.headers["allow"]) == (405, "POST")
    assert snapshot(database) == before


# ---- headers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("ApiKey", [DEMO_KEY, "0" * 32]),
        ("ApiKey", ["0" * 32, DEMO_KEY]),
        ("ApiKey", [DEMO_KEY, DEMO_KEY]),
        ("ApplicationElementId", [ELEMENT_IDS[CREATE], ELEMENT_IDS[GET]]),
        ("ApplicationElementId", [ELEMENT_IDS[CREATE], ELEMENT_IDS[CREATE]]),
        ("Content-Type", ["application/json", "text/plain"]),
    ],
    ids=["key, wrong key", "wrong key, key", "key twice", "two GUIDs", "GUID twice", "two types"],
)
def test_single_headers_given_twice(
    server: Server, database: Database, name: str, values: list[str]
) -> None:
    headers = [("ApiKey", DEMO_KEY), ("ApplicationElementId", ELEMENT_IDS[CREATE])]
    headers = [(key, value) for key, value in headers if key != name]
    headers += [(name, value) for value in values]
    raw = json.dumps(valid(CREATE)).encode()

    def send() -> httpx.Response:
        return server.client.post(f"/api/V1/Action/{CREATE}", content=raw, headers=headers)

    response = assert_refused(database, send, 400, "DuplicateParameter")
    assert response.json()["message"] == f"The {name} header is given more than once; send it once."


def test_admin_token_given_twice(server: Server, database: Database) -> None:
    def send() -> httpx.Response:
        return server.client.put(
            "/api/demo/clock",
            json={"now": "2031-01-01T00:00:00Z"},
            headers=[("Authorization", f"Bearer {ADMIN_TOKEN}"), ("Authorization", "Bearer x")],
        )

    assert_refused(database, send, 400, "DuplicateParameter")
    assert server.admin("GET", "/api/demo/clock").json()["now"] == "2030-01-07T09:00:00Z"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/manage/reservations?space=S%00"),
        ("GET", "/api/manage/spaces/S%00"),
        ("GET", "/api/manage/people/P%00"),
        ("DELETE", "/api/manage/keys/k%00"),
        ("GET", "/api/manage/audit?key=x%00"),
        ("POST", f"/api/V1/Action/{GET}%00"),
    ],
)
def test_a_nul_in_the_path_or_query_is_refused_on_every_backend(
    server: Server, database: Database, method: str, path: str
) -> None:
    # PostgreSQL refuses NUL in text: these lookups answered 500 there.
    response = assert_refused(database, lambda: server.admin(method, path), 400, "InvalidParameter")
    assert "NUL" in response.json()["message"]


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"ApiKey": "F" * 300}, 401, "MissingApiKey"),
        ({"ApiKey": DEMO_KEY + "0" * 40_000}, 431, "HeadersTooLarge"),
        ({"ApiKey": DEMO_KEY, "ApplicationElementId": "0" * 10_000}, 400, None),
        ({"ApiKey": DEMO_KEY, "X-Padding": "p" * 40_000}, 431, "HeadersTooLarge"),
        ({"ApiKey": DEMO_KEY, "X-Padding": "p" * 2_000_000}, 431, "HeadersTooLarge"),
        ({"ApiKey": DEMO_KEY, **{f"X-H{n}": "v" * 20 for n in range(2_000)}}, 431, None),
    ],
    ids=["key 300", "key 40000", "GUID 10000", "padding 40 kB", "padding 2 MB", "2000 headers"],
)
def test_oversized_headers(
    server: Server, database: Database, headers: dict[str, str], status: int, code: str | None
) -> None:
    raw = json.dumps(valid(CREATE)).encode()

    def send() -> httpx.Response:
        return server.client.post(f"/api/V1/Action/{CREATE}", content=raw, headers=headers)

    assert_refused(database, send, status, code)


def test_body_over_the_limit_without_a_length(server: Server, database: Database) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"Description": "'
        for _ in range(200):
            yield b"x" * 10_000
        yield b'"}'

    def send() -> httpx.Response:
        return server.client.post(
            f"/api/V1/Action/{CREATE}", content=chunks(), headers={"ApiKey": DEMO_KEY}
        )

    assert_refused(database, send, 413, "PayloadTooLarge")
