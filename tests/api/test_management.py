"""The management API under /api/manage, against a real server on both databases."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import World
from tests.support import ADMIN_TOKEN, DEMO_KEY, Server, start_server

ROOM = {
    "id": "M-1",
    "description": "Board room",
    "time_zone": "Europe/Amsterdam",
    "preparation_minutes": 15,
    "cleanup_minutes": 5,
    "capacity": 10,
    "bookable": True,
    "building": "HQ",
    "floor": "B1",
    "features": ["video"],
    "check_in_required": False,
    "check_in_opens_minutes": 15,
    "auto_release_minutes": 10,
}
DEFAULTS = {
    "description": "",
    "time_zone": None,
    "preparation_minutes": 0,
    "cleanup_minutes": 0,
    "capacity": None,
    "bookable": True,
    "building": None,
    "floor": None,
    "features": [],
    "check_in_required": False,
    "check_in_opens_minutes": 15,
    "auto_release_minutes": 10,
}


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def refused(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert set(body) <= {"message", "code", "problems"}
    message: str = body["message"]
    return message


def book(server: Server, space: str, person: str, day: int, hour: int = 9) -> str:
    body = {
        "SpaceId": space,
        "ApplicantId": person,
        "StartTime": f"2030-01-{day:02d} {hour:02d}:00:00",
        "EndTime": f"2030-01-{day:02d} {hour + 1:02d}:00:00",
    }
    created = ok(server.call("REST_CreateReservation", body))
    ultimo_id: str = created["Properties"]["UltimoId"]
    return ultimo_id


def spaces(server: Server) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = ok(server.admin("GET", "/api/manage/spaces"))
    return listed


def test_spaces_add_read_change_remove(server: Server) -> None:
    assert ok(server.admin("POST", "/api/manage/spaces", json=ROOM), 201) == ROOM
    assert ROOM in spaces(server)
    assert ok(server.admin("GET", "/api/manage/spaces/M-1")) == ROOM

    changed = ok(
        server.admin("PATCH", "/api/manage/spaces/M-1", json={"capacity": None, "bookable": False})
    )
    assert changed == {**ROOM, "capacity": None, "bookable": False}
    assert ok(server.admin("GET", "/api/manage/spaces/M-1")) == changed
    retagged = ok(
        server.admin(
            "PATCH", "/api/manage/spaces/M-1", json={"features": ["Whiteboard"], "floor": None}
        )
    )
    assert (retagged["features"], retagged["floor"]) == (["whiteboard"], None)
    ok(server.admin("PATCH", "/api/manage/spaces/M-1", json={"features": ["video"], "floor": "B1"}))

    assert ok(server.admin("DELETE", "/api/manage/spaces/M-1"), 204) is None
    message = refused(server.admin("GET", "/api/manage/spaces/M-1"), 404, "RecordNotFound")
    assert message == "There is no space 'M-1'."
    assert refused(server.admin("DELETE", "/api/manage/spaces/M-1"), 404, "RecordNotFound")


def test_ids_with_dots_and_slashes(server: Server) -> None:
    for space_id in ("003.0.20", "B/1/2"):
        ok(server.admin("POST", "/api/manage/spaces", json={"id": space_id}), 201)
        assert ok(server.admin("GET", f"/api/manage/spaces/{space_id}")) == {
            "id": space_id,
            **DEFAULTS,
        }
        ok(server.admin("DELETE", f"/api/manage/spaces/{space_id}"), 204)


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        pytest.param(
            {"id": "M-2", "time_zone": "Europe/Atlantis"},
            400,
            "InvalidParameter",
            "time_zone 'Europe/Atlantis' is not an IANA time zone",
            id="unknown zone",
        ),
        pytest.param(
            {"id": "M-2", "preparation_minutes": -15},
            400,
            "InvalidParameter",
            "preparation_minutes must be between 0 and 10080, not -15.",
            id="negative preparation",
        ),
        pytest.param(
            {"id": "M-2", "capacity": -1},
            400,
            "InvalidParameter",
            "capacity must be between 0 and 1000000, not -1.",
            id="negative capacity",
        ),
        pytest.param(
            {"id": "M-2", "timezone": "UTC"},
            400,
            "InvalidParameter",
            "body.timezone: Extra inputs are not permitted",
            id="misspelt field",
        ),
        pytest.param({"description": "x"}, 400, "InvalidParameter", "body.id", id="no id"),
        pytest.param(
            {"id": " "}, 400, "RequiredParameterMissing", "id is required.", id="blank id"
        ),
        pytest.param(
            {"id": "C-25"}, 409, "AlreadyExists", "Space 'C-25' already exists", id="duplicate"
        ),
    ],
)
def test_space_refusals_store_nothing(
    server: Server, body: dict[str, Any], status: int, code: str, message: str
) -> None:
    before = spaces(server)
    assert message in refused(server.admin("POST", "/api/manage/spaces", json=body), status, code)
    assert spaces(server) == before


def test_changing_a_space_is_validated(server: Server, world: World) -> None:
    space = world.space()
    response = server.admin("PATCH", f"/api/manage/spaces/{space.id}", json={"cleanup_minutes": -1})
    assert refused(response, 400, "InvalidParameter") == (
        "cleanup_minutes must be between 0 and 10080, not -1."
    )
    response = server.admin("PATCH", "/api/manage/spaces/NOPE", json={"capacity": 3})
    assert refused(response, 404, "RecordNotFound") == "There is no space 'NOPE'."


def test_removing_a_space_or_person_that_reservations_name(server: Server, world: World) -> None:
    space, person = world.space(), world.person()
    book(server, space.id, person.id, 14)
    message = refused(
        server.admin("DELETE", f"/api/manage/spaces/{space.id}"), 409, "StillReferenced"
    )
    assert message == (
        f"Space '{space.id}' cannot be removed: 1 reservation(s) name it (1 active). "
        "Mark it not bookable instead."
    )
    message = refused(
        server.admin("DELETE", f"/api/manage/people/{person.id}"), 409, "StillReferenced"
    )
    assert message == (
        f"Person '{person.id}' cannot be removed: 1 reservation(s) name them as applicant "
        "(1 active)."
    )
    assert ok(server.admin("GET", f"/api/manage/spaces/{space.id}"))["id"] == space.id
    # Not bookable keeps the history and stops new bookings.
    ok(server.admin("PATCH", f"/api/manage/spaces/{space.id}", json={"bookable": False}))
    body = {
        "SpaceId": space.id,
        "ApplicantId": person.id,
        "StartTime": "2030-01-15 09:00:00",
        "EndTime": "2030-01-15 10:00:00",
    }
    assert server.call("REST_CreateReservation", body).json()["code"] == "SpaceNotBookable"


def test_people(server: Server) -> None:
    person = {"id": "MP-1", "name": "Fasse, J."}
    assert ok(server.admin("POST", "/api/manage/people", json=person), 201) == person
    assert person in ok(server.admin("GET", "/api/manage/people"))
    renamed = ok(server.admin("PATCH", "/api/manage/people/MP-1", json={"name": "Jansen, P."}))
    assert renamed == {"id": "MP-1", "name": "Jansen, P."}
    assert ok(server.admin("GET", "/api/manage/people/MP-1")) == renamed
    refused(server.admin("POST", "/api/manage/people", json=person), 409, "AlreadyExists")
    ok(server.admin("DELETE", "/api/manage/people/MP-1"), 204)
    refused(server.admin("GET", "/api/manage/people/MP-1"), 404, "RecordNotFound")


def test_import_and_export_spaces(server: Server) -> None:
    rows = [
        {"id": "IM-1", "description": "Imported", "capacity": 4},
        {"id": "IM-2", "time_zone": "Asia/Tokyo", "bookable": False},
    ]
    assert ok(server.admin("POST", "/api/manage/spaces/import", json=rows)) == {
        "added": 2,
        "updated": 0,
    }
    csv_body = "id,description\nIM-1,Changed\nIM-3,Third\n"
    response = server.admin(
        "POST", "/api/manage/spaces/import", content=csv_body, headers={"Content-Type": "text/csv"}
    )
    assert ok(response) == {"added": 1, "updated": 1}
    exported = server.admin("GET", "/api/manage/spaces", params={"format": "csv"})
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    lines = exported.text.splitlines()
    assert (
        lines[0] == "id,description,time_zone,preparation_minutes,cleanup_minutes,capacity,"
        "bookable,building,floor,features,check_in_required,check_in_opens_minutes,"
        "auto_release_minutes"
    )
    assert "IM-1,Changed,,0,0,4,true,,,,false,15,10" in lines  # only the columns given change
    assert "IM-2,,Asia/Tokyo,0,0,,false,,,,false,15,10" in lines
    assert "IM-3,Third,,0,0,,true,,,,false,15,10" in lines
    tagged = 'id,features,building\nIM-3,"Projector,video",North\n'
    response = server.admin(
        "POST", "/api/manage/spaces/import", content=tagged, headers={"Content-Type": "text/csv"}
    )
    assert ok(response) == {"added": 0, "updated": 1}
    stored = ok(server.admin("GET", "/api/manage/spaces/IM-3"))
    assert (stored["building"], stored["features"]) == ("North", ["projector", "video"])
    exported = server.admin("GET", "/api/manage/spaces", params={"format": "csv"})
    assert (
        'IM-3,Third,,0,0,,true,North,,"projector,video",false,15,10' in exported.text.splitlines()
    )


def test_import_with_a_bad_row_stores_nothing(server: Server) -> None:
    before = spaces(server)
    body = '[\n  {"id": "BAD-1"},\n  {"id": "C-25", "description": "renamed"},\n  {"id": "BAD-2", "cleanup_minutes": "lots"}\n]'
    response = server.admin(
        "POST",
        "/api/manage/spaces/import",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json() == {
        "message": "Nothing was imported: 1 row is invalid.\n"
        "line 4: cleanup_minutes must be a whole number, not 'lots'.",
        "code": "ImportRejected",
        "problems": [{"line": 4, "reason": "cleanup_minutes must be a whole number, not 'lots'."}],
    }
    assert spaces(server) == before


def test_import_people_as_csv(server: Server) -> None:
    response = server.admin(
        "POST",
        "/api/manage/people/import",
        params={"format": "csv"},
        content="id,name\nIP-1,One\nIP-2,Two\n",
    )
    assert ok(response) == {"added": 2, "updated": 0}
    exported = server.admin("GET", "/api/manage/people", params={"format": "csv"}).text
    assert "IP-1,One\nIP-2,Two\n" in exported
    bad = server.admin(
        "POST", "/api/manage/people/import", params={"format": "xml"}, content="<people/>"
    )
    assert refused(bad, 400, "InvalidParameter") == "Unknown file format 'xml'; use csv or json."


# Texts a spreadsheet would run as formulas (OWASP's CSV injection), texts that look
# neutralised already, and texts that only resemble them.
FORMULA_TEXTS = {
    "CI-1": '=HYPERLINK("http://example.com/x","click")',
    "CI-2": "+1 555 0100",
    "CI-3": "-3 floor",
    "CI-4": "@SUM(A1:A2)",
    "CI-5": "'=already quoted",
    "CI-6": "''+twice",
    "CI-7": "'plain quote",
    "CI-8": "a=1",
}


def test_csv_export_neutralises_formulas_and_import_reads_them_back(server: Server) -> None:
    for space_id, text in FORMULA_TEXTS.items():
        body = {"id": space_id, "description": text}
        ok(server.admin("POST", "/api/manage/spaces", json=body), 201)
        ok(server.admin("POST", "/api/manage/people", json={"id": space_id, "name": text}), 201)
    body = {"id": "-CI-9", "time_zone": "Etc/GMT-5"}
    ok(server.admin("POST", "/api/manage/spaces", json=body), 201)

    exported = server.admin("GET", "/api/manage/spaces", params={"format": "csv"}).text
    ours = [line for line in exported.splitlines() if "CI-" in line]
    # Then building, floor and features, empty here, and the check-in rules' defaults.
    assert ours == [
        "'-CI-9,,Etc/GMT-5,0,0,,true,,,,false,15,10",
        """CI-1,"'=HYPERLINK(""http://example.com/x"",""click"")",,0,0,,true,,,,false,15,10""",
        "CI-2,'+1 555 0100,,0,0,,true,,,,false,15,10",
        "CI-3,'-3 floor,,0,0,,true,,,,false,15,10",
        "CI-4,'@SUM(A1:A2),,0,0,,true,,,,false,15,10",
        "CI-5,''=already quoted,,0,0,,true,,,,false,15,10",
        "CI-6," + "'" * 3 + "+twice,,0,0,,true,,,,false,15,10",
        "CI-7,'plain quote,,0,0,,true,,,,false,15,10",
        "CI-8,a=1,,0,0,,true,,,,false,15,10",
    ]
    people = server.admin("GET", "/api/manage/people", params={"format": "csv"}).text
    assert "CI-4,'@SUM(A1:A2)\n" in people

    # Import the export under fresh ids: every text arrives exactly as it was.
    header = exported.splitlines()[0]
    renamed = "\n".join([header, *(line.replace("CI-", "RT-", 1) for line in ours)]) + "\n"
    response = server.admin(
        "POST", "/api/manage/spaces/import", content=renamed, headers={"Content-Type": "text/csv"}
    )
    assert ok(response) == {"added": 9, "updated": 0}
    stored = {space["id"]: space for space in spaces(server)}
    for space_id, text in FORMULA_TEXTS.items():
        assert stored[space_id.replace("CI-", "RT-")]["description"] == text
    assert stored["-RT-9"]["time_zone"] == "Etc/GMT-5"


def test_keys(server: Server) -> None:
    created = ok(
        server.admin(
            "POST",
            "/api/manage/keys",
            json={"name": "api-panel", "workflows": ["get"], "ip_allow": "127.0.0.1;::1"},
        ),
        201,
    )
    secret = created.pop("secret")
    assert re.fullmatch(r"[0-9A-F]{32}", secret)
    assert created == {
        "name": "api-panel",
        "status": "active",
        "workflows": ["REST_GetReservationsForSpace"],
        "ip_allow": "127.0.0.1;::1",
        "daily_quota": None,
        "created_at": created["created_at"],
        "revoked_at": None,
    }
    listed = server.admin("GET", "/api/manage/keys")
    assert created in listed.json()
    assert secret not in listed.text and secret.lower() not in listed.text

    window = {"SpaceId": "C-25", "From": "2030-01-08 00:00:00", "Till": "2030-01-09 00:00:00"}
    assert server.call("REST_GetReservationsForSpace", window, key=secret).status_code == 200

    revoked = ok(server.admin("DELETE", "/api/manage/keys/api-panel"))
    assert revoked["status"] == "revoked" and revoked["revoked_at"] is not None
    assert server.call("REST_GetReservationsForSpace", window, key=secret).status_code == 401
    refused(server.admin("DELETE", "/api/manage/keys/nobody"), 404, "RecordNotFound")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param({"name": "demo"}, 409, "AlreadyExists", id="name taken"),
        pytest.param(
            {"name": "k", "workflows": ["delete"]}, 400, "InvalidParameter", id="workflow"
        ),
        pytest.param({"name": "k", "workflows": []}, 400, "InvalidParameter", id="no workflows"),
        pytest.param({"name": "k", "ip_allow": "10.0.0.1/40"}, 400, "InvalidParameter", id="ip"),
        pytest.param({"name": "k", "daily_quota": -5}, 400, "InvalidParameter", id="quota"),
        pytest.param({"name": "k", "secret": "A" * 32}, 400, "InvalidParameter", id="own secret"),
    ],
)
def test_key_refusals_store_nothing(
    server: Server, body: dict[str, Any], status: int, code: str
) -> None:
    before = ok(server.admin("GET", "/api/manage/keys"))
    refused(server.admin("POST", "/api/manage/keys", json=body), status, code)
    assert ok(server.admin("GET", "/api/manage/keys")) == before


def test_reservations_listing(server: Server, world: World) -> None:
    space, person = world.space(prep=30), world.person("Doe, J.")
    first = book(server, space.id, person.id, 16, 9)
    second = book(server, space.id, person.id, 16, 13)
    third = book(server, space.id, person.id, 17, 9)
    ok(server.call("REST_CancelReservation", {"UltimoId": second}))

    def listed(**params: Any) -> list[str]:
        body = ok(
            server.admin("GET", "/api/manage/reservations", params={"space": space.id, **params})
        )
        return [item["ultimo_id"] for item in body["items"]]

    assert listed() == [first, second, third]
    assert listed(status="Processed") == [first, third]
    assert listed(status="cancelled") == [second]
    assert listed(**{"from": "2030-01-16 12:00:00", "till": "2030-01-17 00:00:00"}) == [second]
    assert listed(**{"till": "2030-01-16T08:30:00Z"}) == [first]  # 09:00 Amsterdam

    body = ok(
        server.admin("GET", "/api/manage/reservations", params={"space": space.id, "limit": 2})
    )
    assert body["truncated"] is True and len(body["items"]) == 2
    assert body["items"][0] == {
        "ultimo_id": first,
        "space_id": space.id,
        "applicant_id": person.id,
        "applicant_name": "Doe, J.",
        "description": "",
        "start": "2030-01-16T09:00:00.000000+01:00",
        "end": "2030-01-16T10:00:00.000000+01:00",
        "start_including_preparation": "2030-01-16T08:30:00.000000+01:00",
        "end_including_cleanup": "2030-01-16T10:00:00.000000+01:00",
        "status": "Processed",
        "external_id": "",
    }
    everything = ok(server.admin("GET", "/api/manage/reservations"))
    assert everything["truncated"] is False
    assert {first, second, third} <= {item["ultimo_id"] for item in everything["items"]}

    for params, code in [
        ({"status": "open"}, "InvalidParameter"),
        ({"space": "NOPE"}, "UnknownSpace"),
        ({"from": "yesterday"}, "InvalidDateTime"),
        ({"from": "2030-01-02 00:00:00", "till": "2030-01-01 00:00:00"}, "InvalidTimeSpan"),
        ({"limit": 0}, "InvalidParameter"),
    ]:
        refused(server.admin("GET", "/api/manage/reservations", params=params), 400, code)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no credentials"),
        pytest.param({"Authorization": "Bearer wrong-token"}, id="wrong token"),
        pytest.param({"Authorization": f"Basic {ADMIN_TOKEN}"}, id="not bearer"),
        pytest.param({"ApiKey": DEMO_KEY}, id="ultimo api key"),
        pytest.param({"Authorization": f"Bearer {DEMO_KEY}"}, id="api key as bearer"),
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/manage/spaces"),
        ("POST", "/api/manage/spaces"),
        ("DELETE", "/api/manage/spaces/C-25"),
        ("POST", "/api/manage/spaces/import"),
        ("GET", "/api/manage/people"),
        ("GET", "/api/manage/keys"),
        ("POST", "/api/manage/keys"),
        ("GET", "/api/manage/reservations"),
    ],
)
def test_only_the_admin_token_opens_it(
    server: Server, headers: dict[str, str], method: str, path: str
) -> None:
    response = server.client.request(method, path, headers=headers, json={"id": "X", "name": "X"})
    refused(response, 401, "AdminTokenRequired")
    assert ok(server.admin("GET", "/api/manage/spaces/C-25"))["id"] == "C-25"


def test_the_admin_token_never_opens_the_workflows(server: Server) -> None:
    window = {"SpaceId": "C-25", "From": "2030-01-08 00:00:00", "Till": "2030-01-09 00:00:00"}
    for key, headers in [
        (None, {"Authorization": f"Bearer {ADMIN_TOKEN}"}),
        (ADMIN_TOKEN, {}),
    ]:
        response = server.call("REST_GetReservationsForSpace", window, key=key, headers=headers)
        assert (response.status_code, response.json()) == (
            401,
            {"message": "Missing API key", "code": "MissingApiKey"},
        )


def test_openapi_documents_a_management_tag(server: Server) -> None:
    document = server.client.get("/openapi.json").json()
    management = {
        path: sorted(operations)
        for path, operations in document["paths"].items()
        if path.startswith("/api/manage")
    }
    expected = {
        "/api/manage/spaces": ["get", "post"],
        "/api/manage/spaces/import": ["post"],
        "/api/manage/spaces/{space_id}": ["delete", "get", "patch"],
        "/api/manage/people": ["get", "post"],
        "/api/manage/people/import": ["post"],
        "/api/manage/people/{person_id}": ["delete", "get", "patch"],
        "/api/manage/keys": ["get", "post"],
        "/api/manage/keys/{name}": ["delete"],
        "/api/manage/reservations": ["get"],
    }
    assert {path: management.get(path) for path in expected} == expected
    for path in expected:
        for operation in document["paths"][path].values():
            assert operation["tags"] == ["Management"]
            assert operation["security"] == [{"HTTPBearer": []}]


@pytest.mark.parametrize("token", ["", "   "])
def test_an_empty_admin_token_disables_management(
    database_url: str, tmp_path: Path, token: str
) -> None:
    server = start_server(
        database_url, tmp_path, command="serve", env={"ROOMLINE_ADMIN_TOKEN": token}
    )
    try:
        for headers in ({}, {"Authorization": "Bearer anything"}):
            response = server.client.get("/api/manage/spaces", headers=headers)
            assert refused(response, 401, "AdminTokenRequired") == (
                "The management API is disabled: no admin token is configured "
                "(set ROOMLINE_ADMIN_TOKEN)."
            )
    finally:
        server.stop()


@pytest.mark.parametrize("kind", ["spaces", "people"])
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(
            '[\n  {"id": "LONG", "capacity": ' + "9" * 5000 + "}\n]",
            "a number has more than 4300 digits.",
            id="a 5000-digit number",
        ),
        pytest.param(
            "[\n  " + "[" * 5000 + "]" * 5000 + "\n]",
            "not readable: nested too deeply.",
            id="arrays nested 5000 deep",
        ),
    ],
)
def test_an_unreadable_json_import_is_refused(
    server: Server, kind: str, body: str, reason: str
) -> None:
    before = ok(server.admin("GET", f"/api/manage/{kind}"))
    response = server.admin(
        "POST",
        f"/api/manage/{kind}/import",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()) == (
        400,
        {
            "message": f"Nothing was imported: 1 row is invalid.\nline 2: {reason}",
            "code": "ImportRejected",
            "problems": [{"line": 2, "reason": reason}],
        },
    )
    assert ok(server.admin("GET", f"/api/manage/{kind}")) == before
