"""The web view over plain HTTP: sign-in, CSRF, the forms' rules, keys, the panel's API.

Each test drives the module's real demo server (clock pinned at 2030-01-07 09:00 UTC,
10:00 in Amsterdam) and checks what is stored afterwards through the Ultimo API.
"""

from __future__ import annotations

import html
import io
from typing import Any

import httpx
import pytest
import segno

from tests.conftest import World
from tests.support import ADMIN_TOKEN, DEMO_KEY, Server
from tests.web.conftest import WebClient

CREATE = "REST_CreateReservation"
GET = "REST_GetReservationsForSpace"
UPDATE = "REST_UpdateReservation"


def reservations_of(server: Server, space_id: str) -> list[dict[str, Any]]:
    response = server.call(
        GET, {"SpaceId": space_id, "From": "2030-01-01 00:00:00", "Till": "2030-02-01 00:00:00"}
    )
    assert response.status_code == 200, response.text
    return list(response.json()["properties"]["Output"]["collection"])


def booking(space_id: str, start: str, end: str, applicant: str = "ULTIMO") -> dict[str, str]:
    return {
        "space_id": space_id,
        "applicant_id": applicant,
        "description": "Planning",
        "start": start,
        "end": end,
        "date": "2030-01-07",
        "back": "/web/?date=2030-01-07",
    }


@pytest.mark.parametrize(
    "path",
    [
        "/web/",
        "/web/?date=2030-01-07&q=room",
        "/web/spaces",
        "/web/people",
        "/web/keys",
        "/web/reservations/00000000001",
        "/web/spaces/003.0.10/week",
        "/web/keys/demo/revoke",
    ],
)
def test_every_page_needs_sign_in(anonymous: WebClient, path: str) -> None:
    response = anonymous.http.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == "/web/login?next=" + path.replace("&", "%26").replace(
        "?", "%3F"
    ).replace("=", "%3D")


def test_post_without_sign_in_changes_nothing(
    server: Server, world: World, anonymous: WebClient
) -> None:
    space = world.space()
    token = anonymous.csrf("/web/login")  # even with a valid CSRF token of a signed-out session
    response = anonymous.http.post(
        "/web/reservations",
        data={"csrf_token": token, **booking(space.id, "2030-01-07T11:00", "2030-01-07T12:00")},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/web/login?next=/web/"
    assert reservations_of(server, space.id) == []


def test_sign_in_needs_the_admin_token(anonymous: WebClient) -> None:
    refused = anonymous.sign_in("not-the-token")
    assert refused.status_code == 401
    assert "That is not the admin token." in refused.text
    assert anonymous.http.get("/web/").status_code == 303
    # The demo API key is an Ultimo key: it never opens the web view.
    assert anonymous.sign_in(DEMO_KEY).status_code == 401
    accepted = anonymous.sign_in()
    assert accepted.status_code == 303 and accepted.headers["location"] == "/web/"
    assert anonymous.http.get("/web/").status_code == 200


def test_sign_in_cookie_is_scoped_to_the_web_view(anonymous: WebClient) -> None:
    response = anonymous.sign_in()
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("roomline_web=")
    assert "path=/web;" in cookie and "httponly" in cookie and "samesite=lax" in cookie


def test_sign_out_ends_the_session(web: WebClient) -> None:
    assert web.http.get("/web/").status_code == 200
    response = web.post("/web/logout", {})
    assert response.status_code == 303 and response.headers["location"] == "/web/login"
    assert web.http.get("/web/").status_code == 303


def test_a_forged_session_cookie_is_not_signed_in(server: Server) -> None:
    forged = "eyJhZG1pbiI6IHRydWV9.Zm9yZ2Vk.c2lnbmF0dXJl"  # {"admin": true}, bad signature
    with httpx.Client(base_url=server.base_url, cookies={"roomline_web": forged}) as client:
        assert client.get("/web/").status_code == 303


def test_sign_in_never_redirects_elsewhere(anonymous: WebClient) -> None:
    form = anonymous.http.get("/web/login?next=https://evil.example/")
    assert 'name="next" value="/web/"' in form.text
    response = anonymous.http.post(
        "/web/login",
        data={
            "csrf_token": anonymous.csrf("/web/login"),
            "token": ADMIN_TOKEN,
            "next": "//evil.example/web/",
        },
    )
    assert response.headers["location"] == "/web/"


@pytest.mark.parametrize("token", [None, "", "wrong-token"], ids=["missing", "empty", "wrong"])
def test_every_form_refuses_a_missing_or_wrong_csrf_token(
    server: Server, world: World, web: WebClient, token: str | None
) -> None:
    space = world.space()
    extra = {} if token is None else {"csrf_token": token}
    forms = [
        ("/web/reservations", booking(space.id, "2030-01-07T11:00", "2030-01-07T12:00")),
        ("/web/spaces", {"id": f"{space.id}-new", "bookable": "true"}),
        (f"/web/spaces/{space.id}/edit", {"description": "Changed"}),
        (f"/web/spaces/{space.id}/remove", {}),
        ("/web/people", {"id": f"{space.id}-person", "name": "New"}),
        ("/web/keys", {"name": f"{space.id}-key", "workflows": "REST_GetReservationsForSpace"}),
        ("/web/keys/demo/revoke", {}),
        ("/web/logout", {}),
    ]
    for path, data in forms:
        response = web.http.post(path, data={**data, **extra})
        assert response.status_code == 403, path
        assert "security token is missing or out of date" in response.text
    assert reservations_of(server, space.id) == []
    spaces = server.admin("GET", "/api/manage/spaces").json()
    assert [s["description"] for s in spaces if s["id"].startswith(space.id)] == [space.description]
    assert web.http.get("/web/").status_code == 200  # still signed in: logout was refused too
    assert server.call(GET, _window(space.id)).status_code == 200  # the demo key still works


def test_login_form_needs_its_csrf_token(anonymous: WebClient) -> None:
    anonymous.http.get("/web/login")
    response = anonymous.http.post("/web/login", data={"token": ADMIN_TOKEN})
    assert response.status_code == 403
    assert anonymous.http.get("/web/").status_code == 303


def _window(space_id: str) -> dict[str, str]:
    return {"SpaceId": space_id, "From": "2030-01-07 00:00:00", "Till": "2030-01-08 00:00:00"}


def test_the_ultimo_api_never_gets_a_session_cookie(server: Server, web: WebClient) -> None:
    cookies = {"roomline_web": web.http.cookies["roomline_web"]}
    for response in (
        server.call(
            GET, _window("C-25"), headers={"Cookie": f"roomline_web={cookies['roomline_web']}"}
        ),
        server.client.get("/healthz"),
        server.client.get("/panel/C-25"),
        server.client.get("/web/static/web.css"),
    ):
        assert "set-cookie" not in response.headers, response.request.url
    api = server.call(GET, _window("C-25"))
    assert "content-security-policy" not in api.headers


def test_pages_carry_security_headers(anonymous: WebClient) -> None:
    response = anonymous.http.get("/web/login")
    assert response.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"


def test_booking_form_applies_the_api_rules_and_messages(
    server: Server, world: World, web: WebClient
) -> None:
    space = world.space(prep=15, cleanup=15)
    created = web.post(
        "/web/reservations", booking(space.id, "2030-01-07T11:00", "2030-01-07T12:00")
    )
    assert created.status_code == 303
    [stored] = reservations_of(server, space.id)
    assert created.headers["location"] == f"/web/?date=2030-01-07#r{int(stored['UltimoId'])}"
    assert (stored["StartTime"], stored["EndTime"], stored["ApplicantName"]) == (
        "2030-01-07T11:00:00.000000+01:00",
        "2030-01-07T12:00:00.000000+01:00",
        "Fasse, J.",
    )
    # The same requests through the API and through the form answer the same message.
    for start, end in [
        ("2030-01-07T12:00", "2030-01-07T12:30"),  # inside the cleanup: 1015
        ("2030-01-07T13:00", "2030-01-07T12:30"),  # end before start
        ("2030-01-07T09:00", "2030-01-07T09:30"),  # more than the grace in the past
        ("tomorrow", "2030-01-07T12:30"),  # not a time
        ("2030-03-31T02:30", "2030-03-31T03:30"),  # a wall-clock time that does not exist
    ]:
        body = {
            "ExternalId": "",
            "Description": "Planning",
            "SpaceId": space.id,
            "StartTime": start if len(start) != 16 else f"{start}:00",
            "EndTime": f"{end}:00",
            "ApplicantId": "ULTIMO",
        }
        api = server.call(CREATE, body).json()
        page = web.post("/web/reservations", booking(space.id, start, end))
        assert page.status_code == 400, (start, end)
        assert api["message"] in html.unescape(page.text)
        assert f'data-error-code="{api["code"]}"' in page.text
    assert len(reservations_of(server, space.id)) == 1


def test_a_conflict_shows_the_1015_message_beside_the_form(world: World, web: WebClient) -> None:
    space = world.space(cleanup=30, description="Blue room")
    assert (
        web.post(
            "/web/reservations", booking(space.id, "2030-01-07T11:00", "2030-01-07T12:00")
        ).status_code
        == 303
    )
    page = web.post("/web/reservations", booking(space.id, "2030-01-07T12:15", "2030-01-07T13:00"))
    assert page.status_code == 400
    text = html.unescape(page.text)
    assert (
        "Room reservation cannot be requested or processed.\r\nCause: Blue room is not available."
        in text
    )
    assert '<dialog id="new-reservation" aria-labelledby="new-title" open data-reopen>' in page.text
    assert 'value="2030-01-07T12:15"' in page.text  # what was typed stays in the form


def test_move_shorten_extend_and_cancel_from_the_details(
    server: Server, world: World, web: WebClient
) -> None:
    space = world.space(prep=10)
    web.post("/web/reservations", booking(space.id, "2030-01-07T11:00", "2030-01-07T12:00"))
    [stored] = reservations_of(server, space.id)
    ultimo_id = stored["UltimoId"]
    page = web.http.get(f"/web/reservations/{ultimo_id}")
    assert page.status_code == 200 and "Upcoming" in page.text

    def times() -> tuple[str, str]:
        [item] = reservations_of(server, space.id)
        return item["StartTime"][11:16], item["EndTime"][11:16]

    assert web.post(f"/web/reservations/{ultimo_id}/times", {"shift_end": "30"}).status_code == 303
    assert times() == ("11:00", "12:30")
    assert web.post(f"/web/reservations/{ultimo_id}/times", {"shift_end": "-15"}).status_code == 303
    assert times() == ("11:00", "12:15")
    moved = web.post(
        f"/web/reservations/{ultimo_id}/times",
        {"start": "2030-01-07T14:00", "end": "2030-01-07T15:30"},
    )
    assert (
        moved.status_code == 303 and moved.headers["location"] == f"/web/reservations/{ultimo_id}"
    )
    assert times() == ("14:00", "15:30")
    wrong = web.post(
        f"/web/reservations/{ultimo_id}/times",
        {"start": "2030-01-07T16:00", "end": "2030-01-07T15:00"},
    )
    assert wrong.status_code == 400 and "EndTime must be after StartTime." in wrong.text
    cancelled = web.post(f"/web/reservations/{ultimo_id}/cancel", {})
    assert cancelled.status_code == 303
    assert cancelled.headers["location"] == "/web/?date=2030-01-07"
    assert reservations_of(server, space.id) == []
    page = web.http.get(f"/web/reservations/{ultimo_id}")
    assert "Cancelled" in page.text and "Cancel this reservation" not in page.text


def test_a_running_reservation_keeps_its_start(
    server: Server, world: World, web: WebClient
) -> None:
    space = world.space()
    from datetime import UTC, datetime

    ultimo_id = world.reservation(
        space, datetime(2030, 1, 7, 8, 30, tzinfo=UTC), datetime(2030, 1, 7, 9, 30, tzinfo=UTC)
    )
    page = web.http.get(f"/web/reservations/{ultimo_id:011d}")
    assert "Running now" in page.text and "only its end can change" in page.text
    extended = web.post(
        f"/web/reservations/{ultimo_id:011d}/times",
        {"start": "2030-01-07T09:30", "end": "2030-01-07T11:00", "keep_start": "1"},
    )
    assert extended.status_code == 303
    [item] = reservations_of(server, space.id)
    assert (item["StartTime"][11:16], item["EndTime"][11:16]) == ("09:30", "11:00")


def test_an_ended_reservation_answers_1166(world: World, web: WebClient) -> None:
    space = world.space()
    from datetime import UTC, datetime

    ultimo_id = world.reservation(
        space, datetime(2030, 1, 6, 8, 0, tzinfo=UTC), datetime(2030, 1, 6, 9, 0, tzinfo=UTC)
    )
    page = web.post(f"/web/reservations/{ultimo_id:011d}/cancel", {})
    assert page.status_code == 400
    assert "Cause: Room reservation is in the past." in html.unescape(page.text)
    assert 'data-error-code="1166"' in page.text


def test_unknown_reservation_and_space_pages(web: WebClient) -> None:
    missing = web.http.get("/web/reservations/99999999999")
    assert missing.status_code == 400 and 'data-error-code="UnknownReservation"' in missing.text
    garbled = web.http.get("/web/reservations/abc")
    assert garbled.status_code == 400 and 'data-error-code="InvalidParameter"' in garbled.text
    week = web.http.get("/web/spaces/no-such-space/week")
    assert week.status_code == 404 and 'data-error-code="RecordNotFound"' in week.text
    bad_day = web.http.get("/web/?date=2030-02-30")
    assert bad_day.status_code == 400 and "use yyyy-MM-dd" in bad_day.text


def test_timeline_shows_rows_blocks_and_the_now_line(world: World, web: WebClient) -> None:
    space = world.space(prep=15, cleanup=30, description="Timeline room")
    web.post("/web/reservations", booking(space.id, "2030-01-07T12:00", "2030-01-07T13:00"))
    page = web.http.get(f"/web/?date=2030-01-07&q={space.id}+timeline")
    assert page.status_code == 200
    text = page.text
    assert f'data-space="{space.id}"' in text and "Timeline room" in text
    # Blocked 11:45-13:30 in Amsterdam: 11.75/24 of the day, 1.75/24 long.
    assert "left:48.9583%;width:7.2917%" in text
    assert 'class="prep" data-minutes="15"' in text and 'class="cleanup" data-minutes="30"' in text
    assert 'class="now-line" style="left:41.6667%"' in text  # 10:00 in Amsterdam
    busy = web.http.get(f"/web/?date=2030-01-07&q={space.id}&state=busy")
    assert f'data-space="{space.id}"' not in busy.text


def test_week_view_draws_seven_days(world: World, web: WebClient) -> None:
    space = world.space()
    web.post("/web/reservations", booking(space.id, "2030-01-09T08:00", "2030-01-09T09:00"))
    page = web.http.get(f"/web/spaces/{space.id}/week?date=2030-01-09")
    assert page.status_code == 200
    assert page.text.count('data-axis="y"') == 7
    assert "Mon 7 Jan" in page.text and "Sun 13 Jan" in page.text
    assert "top:33.3333%;height:4.1667%" in page.text


def test_spaces_and_people_pages_use_the_management_rules(
    server: Server, world: World, web: WebClient
) -> None:
    number = world.person().id.split("-")[1]
    space_id, person_id = f"WEB-{number}", f"WP-{number}"
    added = web.post(
        "/web/spaces",
        {
            "id": space_id,
            "description": "Web room",
            "time_zone": "Europe/Berlin",
            "preparation_minutes": "5",
            "cleanup_minutes": "",
            "capacity": "4",
            "building": "HQ",
            "floor": "2",
            "features": "Projector, video",
            "bookable": "true",
            "check_in_required": "true",
            "check_in_opens_minutes": "20",
            "auto_release_minutes": "",
        },
    )
    assert added.status_code == 303
    stored = server.admin("GET", f"/api/manage/spaces/{space_id}").json()
    assert stored == {
        "id": space_id,
        "description": "Web room",
        "time_zone": "Europe/Berlin",
        "preparation_minutes": 5,
        "cleanup_minutes": 0,
        "capacity": 4,
        "bookable": True,
        "building": "HQ",
        "floor": "2",
        "features": ["projector", "video"],
        "check_in_required": True,
        "check_in_opens_minutes": 20,
        "auto_release_minutes": 10,  # blank: the default
    }
    edit_page = web.http.get(f"/web/spaces/{space_id}/edit")
    assert 'name="check_in_required" value="true" checked' in edit_page.text
    assert (
        'name="features" size="30" placeholder="projector, video, whiteboard" value="projector, video"'
        in edit_page.text
    )
    bad = web.post("/web/spaces", {"id": f"{space_id}-2", "time_zone": "Mars/Olympus"})
    assert bad.status_code == 400 and "is not an IANA time zone" in bad.text
    again = web.post("/web/spaces", {"id": space_id})
    assert again.status_code == 409 and "already exists" in again.text
    edited = web.post(f"/web/spaces/{space_id}/edit", {"description": "Renamed", "capacity": ""})
    assert edited.status_code == 303
    stored = server.admin("GET", f"/api/manage/spaces/{space_id}").json()
    assert (stored["description"], stored["capacity"], stored["bookable"]) == (
        "Renamed",
        None,
        False,
    )
    assert (stored["building"], stored["features"]) == (None, [])  # blank fields clear
    assert (stored["check_in_required"], stored["check_in_opens_minutes"]) == (False, 15)

    assert web.post("/web/people", {"id": person_id, "name": "Jansen, P."}).status_code == 303
    assert web.post(f"/web/people/{person_id}/edit", {"name": "Jansen, Piet"}).status_code == 303
    assert server.admin("GET", f"/api/manage/people/{person_id}").json()["name"] == "Jansen, Piet"
    assert web.post(f"/web/people/{person_id}/remove", {}).status_code == 303
    assert server.admin("GET", f"/api/manage/people/{person_id}").status_code == 404
    assert web.post(f"/web/spaces/{space_id}/remove", {}).status_code == 303
    assert server.admin("GET", f"/api/manage/spaces/{space_id}").status_code == 404
    in_use = web.post("/web/people/ULTIMO/remove", {})
    assert in_use.status_code == 409 and "cannot be removed" in in_use.text


def test_a_new_keys_secret_is_shown_once_and_revoking_asks_first(
    server: Server, world: World, web: WebClient
) -> None:
    space = world.space()
    name = f"panel-{space.id}"
    created = web.http.post(
        "/web/keys",
        data={
            "csrf_token": web.csrf(),
            "name": name,
            "workflows": [GET, CREATE],
            "ip_allow": "",
            "daily_quota": "500",
        },
    )
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    secret = created.text.split("data-secret>")[1].split("<")[0]
    assert len(secret) == 32
    assert server.call(GET, _window(space.id), key=secret).status_code == 200
    assert server.call(UPDATE, {"UltimoId": "1", "EndTime": "x"}, key=secret).status_code == 403
    listing = web.http.get("/web/keys")
    assert name in listing.text and secret not in listing.text
    confirm = web.http.get(f"/web/keys/{name}/revoke")
    assert confirm.status_code == 200 and f"Yes, revoke {name}" in confirm.text
    assert server.call(GET, _window(space.id), key=secret).status_code == 200  # not yet
    assert web.post(f"/web/keys/{name}/revoke", {}).status_code == 303
    assert server.call(GET, _window(space.id), key=secret).status_code == 401
    none_chosen = web.http.post("/web/keys", data={"csrf_token": web.csrf(), "name": "x"})
    assert none_chosen.status_code == 400 and "at least one workflow" in none_chosen.text


def test_panel_api_needs_an_api_key_that_may_get(server: Server, world: World) -> None:
    space = world.space(prep=5, cleanup=10, description="Door room")
    path = f"/api/panel/{space.id}"
    assert server.client.get(path).json() == {"message": "Missing API key", "code": "MissingApiKey"}
    assert server.client.get(path).status_code == 401
    admin_token = server.client.get(path, headers={"ApiKey": ADMIN_TOKEN})
    assert (admin_token.status_code, admin_token.json()) == (
        401,
        {
            "message": "The admin token cannot be used on a panel; use an API key with get, "
            "create, checkin and changes (roomline keys create --name <panel> --workflows "
            "get,create,checkin,changes).",
            "code": "AdminTokenNotAKey",
        },
    )
    # The workflows answer the admin token as Ultimo answers any unknown key.
    assert server.call(GET, _window(space.id), key=ADMIN_TOKEN).json() == {
        "message": "Missing API key",
        "code": "MissingApiKey",
    }
    create_only = world.key(workflows=[CREATE])
    refused = server.client.get(path, headers={"ApiKey": create_only})
    assert refused.status_code == 403 and refused.json()["code"] == "WorkflowNotAllowed"
    panel_key = world.key(workflows=[GET, CREATE])
    state = server.client.get(path, headers={"ApiKey": panel_key})
    assert state.status_code == 200
    assert state.json() == {
        "space_id": space.id,
        "description": "Door room",
        "time_zone": "Europe/Amsterdam",
        "now": "2030-01-07T10:00:00.000000+01:00",
        "preparation_minutes": 5,
        "cleanup_minutes": 10,
        "bookable": True,
        "start_grace_minutes": 5,
        "application_element_ids": {
            GET: "860ea091-4d76-47d9-a733-c3bb18440dde",
            CREATE: "0167a94a-5dae-4efe-bf13-029a47728b97",
        },
        "check_in": {"required": False, "opens_minutes": 15, "auto_release_minutes": 10},
        "checked_in": {},
        "grants": {CREATE: True, "checkin": False, "changes": False},
        "booking_url": f"{server.base_url}/web/spaces/{space.id}/week",
    }
    unknown = server.client.get("/api/panel/no-such-room", headers={"ApiKey": panel_key})
    assert unknown.status_code == 400 and unknown.json()["code"] == "UnknownSpace"


def test_the_panels_qr_code_opens_the_rooms_booking_page(server: Server, world: World) -> None:
    space = world.space()
    answer = server.client.get(f"/panel/{space.id}/qr.svg")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/svg+xml"
    assert answer.text.startswith("<?xml") and "<svg" in answer.text
    # segno writes the same symbol for the same text: the panel's page URL, nothing else.
    expected = io.BytesIO()
    segno.make(f"{server.base_url}/web/spaces/{space.id}/week", error="m").save(
        expected, kind="svg", scale=8, border=2, dark="#0d1320", light="#ffffff"
    )
    assert answer.content == expected.getvalue()


def test_panel_page_reveals_nothing_without_a_key(server: Server, world: World) -> None:
    space = world.space(description="Secret lab")
    page = server.client.get(f"/panel/{space.id}")
    assert page.status_code == 200
    assert "Secret lab" not in page.text and f'data-space="{space.id}"' in page.text
    assert "set-cookie" not in page.headers and page.headers["x-frame-options"] == "DENY"


def test_root_leads_to_the_web_view(server: Server) -> None:
    response = server.client.get("/", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/web/"


# ---- query and form parameters out of range (issue 13, item 14) ----------------------

OUT_OF_RANGE_DATES = ["9999-12-31", "0001-01-01", "9999-12-30", "0001-01-02", "1899-12-31"]


@pytest.mark.parametrize(
    ("refresh", "message"),
    [
        pytest.param("²", "refresh must be a whole number, not '²'.", id="superscript two"),
        pytest.param("①", "refresh must be a whole number, not '①'.", id="circled one"),
        pytest.param(
            "9" * 5000, f"refresh must be a whole number, not '{'9' * 20}'.", id="5000 digits"
        ),
        pytest.param("4", "refresh must be between 5 and 3600, not 4.", id="too often"),
    ],
)
def test_panel_refresh_must_be_whole_seconds(server: Server, refresh: str, message: str) -> None:
    page = server.client.get("/panel/C-25", params={"refresh": refresh})
    assert page.status_code == 400
    assert message in html.unescape(page.text)
    assert 'data-error-code="InvalidParameter"' in page.text
    assert server.client.get("/panel/C-25", params={"refresh": "3600"}).status_code == 200


@pytest.mark.parametrize("day", OUT_OF_RANGE_DATES)
@pytest.mark.parametrize("page", ["/web/", "/web/spaces/C-25/week"], ids=["day", "week"])
def test_dates_outside_the_supported_years_are_refused(web: WebClient, page: str, day: str) -> None:
    response = web.http.get(page, params={"date": day})
    assert response.status_code == 400
    assert f"date '{day}' is out of range; years 1900 to 9998 are shown." in html.unescape(
        response.text
    )


@pytest.mark.parametrize("day", ["1900-01-01", "9998-12-31"])
@pytest.mark.parametrize("page", ["/web/", "/web/spaces/C-25/week"], ids=["day", "week"])
def test_the_first_and_last_supported_days_are_shown(web: WebClient, page: str, day: str) -> None:
    assert web.http.get(page, params={"date": day}).status_code == 200


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
@pytest.mark.parametrize("back", ["/web/", "/web/spaces/C-25/week"], ids=["day", "week"])
def test_a_refused_booking_carrying_an_out_of_range_date(
    server: Server, world: World, web: WebClient, back: str, day: str
) -> None:
    space = world.space()
    sent = booking(space.id, "2030-01-07T13:00", "2030-01-07T12:00") | {"date": day, "back": back}
    response = web.post("/web/reservations", sent)
    assert response.status_code == 400
    assert f"date '{day}' is out of range" in html.unescape(response.text)
    assert reservations_of(server, space.id) == []


def test_find_page_refuses_bad_input_with_the_services_messages(web: WebClient) -> None:
    empty = web.http.get("/web/find")
    assert empty.status_code == 200 and "data-find-results" not in empty.text
    bad_time = web.http.get("/web/find", params={"date": "2030-01-08", "time": "25:00"})
    assert bad_time.status_code == 400
    assert "Give a date (yyyy-mm-dd) and a time (HH:MM)." in bad_time.text
    bad_seats = web.http.get(
        "/web/find", params={"date": "2030-01-08", "time": "10:00", "capacity": "many"}
    )
    assert bad_seats.status_code == 400
    assert "capacity must be a whole number, not &#39;many&#39;." in bad_seats.text
    nothing = web.http.get(
        "/web/find", params={"date": "2030-01-08", "time": "10:00", "features": "teleporter"}
    )
    assert nothing.status_code == 200 and "data-no-results" in nothing.text


def test_check_in_and_end_from_the_reservation_page_and_the_timeline_shows_it(
    server: Server, world: World, web: WebClient
) -> None:
    from datetime import UTC, datetime

    space = world.space(check_in_required=True, description="Door room")
    number = world.reservation(
        space, datetime(2030, 1, 7, 8, 55, tzinfo=UTC), datetime(2030, 1, 7, 10, 0, tzinfo=UTC)
    )
    ultimo_id = f"{number:011d}"
    page = web.http.get(f"/web/reservations/{ultimo_id}")
    assert (
        '<dd data-field="door">Check-in required: check-in opens 09:40, released at 10:05 '
        "without it</dd>" in page.text
    )
    assert "Check in now" in page.text and "End now" in page.text
    assert web.post(f"/web/reservations/{ultimo_id}/check-in", {}).status_code == 303
    page = web.http.get(f"/web/reservations/{ultimo_id}")
    assert '<dd data-field="door">Checked in at 10:00 by web</dd>' in page.text
    assert "Check in now" not in page.text
    timeline = web.http.get("/web/", params={"date": "2030-01-07", "q": space.id}).text
    assert f'class="block running checked-in" id="r{number}"' in timeline
    assert f"{ultimo_id} · checked in · " in timeline
    assert web.post(f"/web/reservations/{ultimo_id}/end", {}).status_code == 303
    page = web.http.get(f"/web/reservations/{ultimo_id}")
    assert '<dd data-field="door">Ended early at 10:00</dd>' in page.text
    refused = web.post(f"/web/reservations/{ultimo_id}/end", {})
    assert refused.status_code == 400 and "Room reservation is in the past" in refused.text


@pytest.mark.parametrize("hours", ["²", "-1", "169", ""])
def test_a_new_secret_refuses_hours_it_cannot_read_and_changes_nothing(
    server: Server, web: WebClient, hours: str
) -> None:
    added = server.admin(
        "POST",
        "/api/manage/webhooks",
        json={"url": "https://203.0.113.10/hook", "events": ["reservation.created"]},
    )
    assert added.status_code == 201, added.text
    hook = added.json()["id"]
    answer = web.post(f"/web/webhooks/{hook}/rotate-secret", {"keep_previous_hours": hours})
    assert answer.status_code == 400
    assert "keep_previous_hours must be" in answer.text
    [listed] = [h for h in server.admin("GET", "/api/manage/webhooks").json() if h["id"] == hook]
    assert listed["previous_secret_expires_at"] is None  # never rotated
    assert server.admin("DELETE", f"/api/manage/webhooks/{hook}").status_code == 200
