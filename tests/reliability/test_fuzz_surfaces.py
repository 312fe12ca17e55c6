"""Hostile values everywhere the OpenAPI document does not reach: no 5xx, no traceback.

``test_fuzz_openapi.py`` fuzzes what the server's OpenAPI document describes, with values
that fit its schemas. This module sends what schemas do not foresee to every other way
in: the web view's query parameters, path segments and forms (signed in, with the
session's CSRF token, and signed out), the door panel, and the management and demo APIs'
query parameters and bodies (with the admin token and without), including bodies no
JSON schema describes: numbers of thousands of digits, arrays nested thousands deep,
CSV text. Values lean towards the edges that broke roomline before (issue 13, item 14):
non-ASCII digits such as "²" and "①", 5000-digit numbers, 2**63, the first and last days
of the calendar, and the years just outside the supported ones.

Two kinds of run, on SQLite and PostgreSQL against the module's demo server:

- ``test_every_parameter_at_every_edge`` sends each edge value to each query parameter,
  path segment, form field and body on its own (the others left out, so that no other
  refusal hides it), signed in and with the admin token: about 2,000 requests.
- Hypothesis mixes the edges with random text, integers, dates and JSON, several
  parameters at once, with and without credentials and CSRF token:
  ``SURFACE_EXAMPLES`` requests per test (``ROOMLINE_SURFACE_EXAMPLES`` overrides) from a
  fixed seed (``ROOMLINE_FUZZ_SEED``).

The property, checked after every request: the answer is not a 5xx, and nothing the
server logged since the request before holds a traceback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from tests.support import ADMIN_TOKEN, Server
from tests.web.conftest import WebClient

SURFACE_EXAMPLES = int(os.environ.get("ROOMLINE_SURFACE_EXAMPLES", "100"))
FUZZ_SEED = int(os.environ.get("ROOMLINE_FUZZ_SEED", "20300107"))
FUZZING = settings(
    max_examples=SURFACE_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)

EDGES = [
    "",
    " ",
    "²",
    "①",
    "٣",
    "9" * 5000,
    str(2**63),
    str(-(2**63) - 1),
    "-1",
    "0",
    "1e400",
    "NaN",
    "0001-01-01",
    "0001-01-02",
    "1899-12-31",
    "1900-01-01",
    "9998-12-31",
    "9999-12-30",
    "9999-12-31",
    "2030-01-07",
    "9999-12-31T23:59:59Z",
    "0001-01-01 00:00:00",
    "9999-01-01T13:59:59+14:00",
    "\x00",
    "%",
    "../..",
    "a" * 3000,
]
HOSTILE_TEXT = st.one_of(
    st.sampled_from(EDGES),
    st.text(max_size=30),
    st.integers().map(str),
    st.dates().map(date.isoformat),
    st.datetimes().map(lambda moment: moment.isoformat(sep=" ")),
)
HOSTILE_JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        HOSTILE_TEXT,
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=12), inner, max_size=3)
    ),
    max_leaves=8,
)
# JSON values at the edges, written as JSON (a float of 1e400 cannot be made in Python).
JSON_EDGES = [
    "9" * 5000,
    str(2**63),
    str(-(2**63) - 1),
    "1e400",
    "[" * 3000 + "]" * 3000,
    '"²"',
    '"9999-12-31T23:59:59Z"',
    '"0001-01-01 00:00:00"',
    "null",
]
# Bodies no schema describes, which JSON parsers refuse in ways of their own.
RAW_BODIES = [
    "[" + "9" * 5000 + "]",
    '[{"id": "X", "capacity": ' + "9" * 5000 + "}]",
    "[" * 5000 + "]" * 5000,
    "[" + "{" * 3000 + "}" * 3000 + "]",
    '{"now": ' + "9" * 5000 + "}",
    '[{"id": "X", "capacity": 1e400}]',
    '{"now": "9999-12-31T23:59:59Z"}',
    "id,name\n" + "9" * 5000 + ",x\n",
    "\xff\xfe",
]

# (path, its query parameters); "{}" is a path segment drawn from HOSTILE_TEXT.
QUERIES = [
    ("/web/", ["date", "q", "state"]),
    ("/web/spaces/{}/week", ["date"]),
    ("/web/reservations/{}", []),
    ("/web/spaces/{}/edit", []),
    ("/web/people/{}/edit", []),
    ("/web/keys/{}/revoke", []),
    ("/web/login", ["next"]),
    ("/panel/{}", ["refresh"]),
    ("/api/panel/{}", []),
    ("/api/manage/audit", ["since", "key", "ultimo_id", "after_id", "limit"]),
    ("/api/manage/reservations", ["space", "from", "till", "status", "limit"]),
    ("/api/manage/spaces", ["format"]),
    ("/api/manage/spaces/{}", []),
    ("/api/manage/people", ["format"]),
    ("/api/manage/people/{}", []),
    ("/api/manage/keys", []),
    ("/api/demo/clock", []),
]
# (path, its form fields); logout is left out so that the session lasts the whole run.
FORMS = [
    (
        "/web/reservations",
        ["space_id", "applicant_id", "description", "start", "end", "date", "back", "q"],
    ),
    ("/web/reservations/{}/times", ["start", "end", "keep_start", "shift_end"]),
    ("/web/reservations/{}/cancel", []),
    (
        "/web/spaces",
        [
            "id",
            "description",
            "time_zone",
            "preparation_minutes",
            "cleanup_minutes",
            "capacity",
            "bookable",
        ],
    ),
    ("/web/spaces/{}/edit", ["description", "time_zone", "capacity", "bookable"]),
    ("/web/spaces/{}/remove", []),
    ("/web/people", ["id", "name"]),
    ("/web/people/{}/edit", ["name"]),
    ("/web/people/{}/remove", []),
    ("/web/keys", ["name", "workflows", "ip_allow", "daily_quota"]),
    ("/web/keys/{}/revoke", []),
    ("/web/login", ["token", "next"]),
]
# (method, path, content type) of the management and demo APIs' bodies.
BODIES = [
    ("POST", "/api/manage/spaces", "application/json"),
    ("PATCH", "/api/manage/spaces/{}", "application/json"),
    ("POST", "/api/manage/spaces/import", "application/json"),
    ("POST", "/api/manage/spaces/import?format=csv", "text/csv"),
    ("POST", "/api/manage/people", "application/json"),
    ("PATCH", "/api/manage/people/{}", "application/json"),
    ("POST", "/api/manage/people/import", "application/json"),
    ("POST", "/api/manage/people/import?format=csv", "text/csv"),
    ("POST", "/api/manage/keys", "application/json"),
    ("DELETE", "/api/manage/keys/{}", "application/json"),
    ("PUT", "/api/demo/clock", "application/json"),
]
FIELDS = [
    "id",
    "name",
    "description",
    "time_zone",
    "preparation_minutes",
    "cleanup_minutes",
    "capacity",
    "bookable",
    "workflows",
    "ip_allow",
    "daily_quota",
    "now",
    "shift_seconds",
]


class LogWatch:
    """What a server logged since the last look."""

    def __init__(self, server: Server) -> None:
        self.path: Path = server.log_path
        self.offset = self.path.stat().st_size

    def news(self) -> str:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            text = log.read()
        self.offset += len(text)
        return text.decode(errors="replace")


@pytest.fixture(scope="module")
def signed_in(server: Server) -> Iterator[WebClient]:
    client = WebClient(server)
    assert client.sign_in().status_code == 303
    yield client
    client.close()


@pytest.fixture(scope="module")
def anonymous(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def watch(server: Server) -> LogWatch:
    return LogWatch(server)


def no_server_error(response: httpx.Response, watch: LogWatch) -> None:
    """The property: a 4xx at worst, and no traceback in the log."""
    request = response.request
    assert response.status_code < 500, (request.method, str(request.url)[:300], response.text[:500])
    logged = watch.news()
    # (A traceback logged as the request before was answered shows up here, one late.)
    assert "Traceback" not in logged, (request.method, str(request.url)[:300], logged[-3000:])


def fill(template: str, segment: str) -> str:
    return template.replace("{}", quote(segment, safe="") or "x")


def client_for(
    credentials: bool, signed_in: WebClient, anonymous: httpx.Client, path: str
) -> tuple[httpx.Client, dict[str, str]]:
    """The web view's signed-in session, or the admin token for the APIs; or neither."""
    if not credentials:
        return anonymous, {}
    if path.startswith(("/web", "/panel")):
        return signed_in.http, {}
    return anonymous, {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@FUZZING
@seed(FUZZ_SEED)
@given(
    target=st.sampled_from(QUERIES),
    segment=HOSTILE_TEXT,
    values=st.lists(HOSTILE_TEXT, min_size=5, max_size=5),
    credentials=st.booleans(),
)
def test_query_parameters_and_path_segments(
    signed_in: WebClient,
    anonymous: httpx.Client,
    watch: LogWatch,
    target: tuple[str, list[str]],
    segment: str,
    values: list[str],
    credentials: bool,
) -> None:
    template, names = target
    path = fill(template, segment)
    client, headers = client_for(credentials, signed_in, anonymous, path)
    params = dict(zip(names, values, strict=False))
    no_server_error(client.get(path, params=params, headers=headers), watch)


@FUZZING
@seed(FUZZ_SEED)
@given(
    target=st.sampled_from(FORMS),
    segment=st.one_of(st.sampled_from(["00000006710", "C-25", "ULTIMO", "demo"]), HOSTILE_TEXT),
    values=st.lists(HOSTILE_TEXT, min_size=9, max_size=9),
    credentials=st.booleans(),
    with_csrf=st.booleans(),
)
def test_web_forms(
    signed_in: WebClient,
    anonymous: httpx.Client,
    watch: LogWatch,
    target: tuple[str, list[str]],
    segment: str,
    values: list[str],
    credentials: bool,
    with_csrf: bool,
) -> None:
    template, names = target
    path = fill(template, segment)
    client, _ = client_for(credentials, signed_in, anonymous, path)
    form = dict(zip(names, values, strict=False))
    if with_csrf:
        form["csrf_token"] = signed_in.csrf() if credentials else "not-a-token"
    no_server_error(client.post(path, data=form), watch)


@FUZZING
@seed(FUZZ_SEED)
@given(
    target=st.sampled_from(BODIES),
    segment=st.one_of(st.sampled_from(["C-25", "ULTIMO", "demo"]), HOSTILE_TEXT),
    body=st.one_of(
        st.sampled_from(RAW_BODIES),
        st.dictionaries(st.sampled_from(FIELDS), HOSTILE_JSON, max_size=6).map(json.dumps),
        st.lists(st.dictionaries(st.sampled_from(FIELDS), HOSTILE_JSON, max_size=4)).map(
            json.dumps
        ),
        HOSTILE_JSON.map(json.dumps),
        HOSTILE_TEXT,
    ),
    credentials=st.booleans(),
)
def test_management_and_demo_bodies(
    anonymous: httpx.Client,
    signed_in: WebClient,
    watch: LogWatch,
    target: tuple[str, str, str],
    segment: str,
    body: str,
    credentials: bool,
) -> None:
    method, template, content_type = target
    path = fill(template, segment)
    _, headers = client_for(credentials, signed_in, anonymous, path)
    headers["Content-Type"] = content_type
    response = anonymous.request(
        method, path, content=body.encode(errors="replace"), headers=headers
    )
    no_server_error(response, watch)


def test_every_parameter_at_every_edge(
    signed_in: WebClient, anonymous: httpx.Client, watch: LogWatch
) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    csrf = signed_in.csrf()
    failures: list[str] = []

    def send(client: httpx.Client, method: str, path: str, **kwargs: Any) -> None:
        try:
            no_server_error(client.request(method, path, **kwargs), watch)
        except AssertionError as failure:
            failures.append(str(failure)[:600])
        except httpx.TransportError as failure:  # the server dropped the connection
            failures.append(f"{method} {path[:200]} {kwargs.get('params')}: {failure!r}")

    for edge in EDGES:
        for template, names in QUERIES:
            client, headers = client_for(True, signed_in, anonymous, template)
            if "{}" in template:
                send(client, "GET", fill(template, edge), headers=headers)
            for name in names:
                path = fill(template, "C-25")
                send(client, "GET", path, params={name: edge}, headers=headers)
        for template, names in FORMS:
            if "{}" in template:
                send(signed_in.http, "POST", fill(template, edge), data={"csrf_token": csrf})
            for name in names:
                form = {"csrf_token": csrf, name: edge}
                send(signed_in.http, "POST", fill(template, "00000006710"), data=form)
    for method, template, content_type in BODIES:
        headers = {**admin, "Content-Type": content_type}
        path = fill(template, "C-25")
        bodies = [
            *RAW_BODIES,
            *(
                "{" + ", ".join(f'"{name}": {value}' for name in FIELDS) + "}"
                for value in JSON_EDGES
            ),
        ]
        bodies += [f"[{body}]" for body in bodies if body.startswith("{")]
        for body in bodies:
            send(anonymous, method, path, content=body.encode(), headers=headers)
    assert not failures, "\n\n".join(failures)
