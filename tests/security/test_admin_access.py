"""What the admin token opens, and how: one check for the management API, the demo API and
the web sign-in; before any body is read; throttled per client address; sessions that end
for every copy of their cookie. Against real server processes on both databases.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import itsdangerous
import pytest
import redis

from tests.security.helpers import redis_url_or_skip
from tests.support import ADMIN_TOKEN, Server, start_server
from tests.web.conftest import WebClient, csrf_from

MAX_BODY = 1_000_000
TOO_LARGE = {
    "message": f"The request body is larger than {MAX_BODY} bytes.",
    "code": "PayloadTooLarge",
}
WRONG_TOKEN = {
    "message": "Send the admin token as 'Authorization: Bearer <token>'.",
    "code": "AdminTokenRequired",
}
DISABLED = {
    "message": "The management API is disabled: no admin token is configured "
    "(set ROOMLINE_ADMIN_TOKEN).",
    "code": "AdminTokenRequired",
}
BEARER = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def signed_in(client: WebClient) -> bool:
    """Whether the client's cookie opens a page that needs a signed-in session."""
    return client.http.get("/web/keys").status_code == 200


def opened_by_forged_cookie(server: Server, token: str) -> bool:
    """Whether a session cookie signed with the key the admin token's text used to give
    (Starlette's SessionMiddleware format) opens a signed-in page."""
    secret = hmac.new(token.encode(), b"roomline web session v1", hashlib.sha256).hexdigest()
    data = base64.b64encode(json.dumps({"admin": True, "csrf": "x"}).encode())
    cookie = itsdangerous.TimestampSigner(secret).sign(data).decode()
    answer = server.client.get("/web/keys", headers={"Cookie": f"roomline_web={cookie}"})
    return answer.status_code == 200


# 1. An empty or blank admin token disables every surface; cookies cannot be forged.


@pytest.mark.parametrize("token", ["", "   "], ids=["empty", "blank"])
def test_a_blank_admin_token_disables_every_surface(
    database_url: str, tmp_path: Path, token: str
) -> None:
    server = start_server(database_url, tmp_path, env={"ROOMLINE_ADMIN_TOKEN": token})
    web = WebClient(server)
    try:
        assert "The web view is disabled" in web.http.get("/web/login").text
        # The page shows no form; its CSRF token is in the (signed, not secret) cookie.
        cookie = web.http.cookies["roomline_web"]
        csrf = json.loads(base64.b64decode(cookie.split(".")[0]))["csrf"]
        for given in ("", " ", token):
            refused = web.http.post("/web/login", data={"csrf_token": csrf, "token": given})
            assert refused.status_code == 401, refused.text
            assert "The web view is disabled" in refused.text
            assert not signed_in(web)
        for method, path in [("PUT", "/api/demo/clock"), ("POST", "/api/manage/keys")]:
            for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer x"}):
                answer = server.client.request(method, path, headers=headers, json={})
                assert (answer.status_code, answer.json()) == (401, DISABLED)
        assert not opened_by_forged_cookie(server, token)
    finally:
        web.close()
        server.stop()


def test_a_cookie_signed_with_a_key_derived_from_the_token_is_refused(server: Server) -> None:
    assert not opened_by_forged_cookie(server, ADMIN_TOKEN)
    web = WebClient(server)
    try:
        assert web.sign_in().status_code == 303
        assert signed_in(web)
    finally:
        web.close()


# 2. The token is checked before a body is read; every body is capped while streaming.


def raw_request(server: Server, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send ``head`` and ``body`` on a socket and read the answer, without finishing any
    body the head announced; return its status and body."""
    host, port = server.base_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=15) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
        head_bytes, _, content = answer.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head_bytes.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(content) < length:
            content += sock.recv(65536)
    return int(head_bytes.split(b" ")[1]), content


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/manage/spaces"),
        ("POST", "/api/manage/keys"),
        ("PATCH", "/api/manage/people/ULTIMO"),
        ("POST", "/api/manage/spaces/import"),
        ("PUT", "/api/demo/clock"),
    ],
)
@pytest.mark.parametrize("authorization", ["", "Authorization: Bearer wrong\n"])
def test_no_body_is_read_before_the_admin_token(
    server: Server, method: str, path: str, authorization: str
) -> None:
    """A body announced but never sent: the answer comes without waiting for it."""
    for framing in ("Content-Length: 900000\n", "Transfer-Encoding: chunked\n"):
        head = (
            f"{method} {path} HTTP/1.1\nHost: roomline\nContent-Type: application/json\n"
            f"{authorization}{framing}"
        )
        started = b'{"id": "' if "Length" in framing else b'8\r\n{"id": "\r\n'
        status, content = raw_request(server, head, started)
        assert (status, json.loads(content)) == (401, WRONG_TOKEN)


def chunks(size: int) -> Iterator[bytes]:
    """A JSON-ish body of ``size`` bytes, streamed in pieces (no Content-Length)."""
    yield b'{"id": "'
    for _ in range(size // 65536):
        yield b"a" * 65536


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("POST", "/api/manage/spaces", BEARER),
        ("PATCH", "/api/manage/people/ULTIMO", BEARER),
        ("POST", "/api/manage/keys", BEARER),
        ("PUT", "/api/demo/clock", BEARER),
        ("POST", "/web/login", {"Content-Type": "application/x-www-form-urlencoded"}),
        ("POST", "/api/V1/Action/REST_GetReservationsForSpace", {}),
    ],
)
def test_every_body_is_capped_while_streaming(
    server: Server, method: str, path: str, headers: dict[str, str]
) -> None:
    answer = server.client.request(
        method,
        path,
        headers={"Content-Type": "application/json", **headers},
        content=chunks(3 * MAX_BODY),
    )
    expected = dict(TOO_LARGE, type="3") if path.startswith("/api/V1/") else TOO_LARGE
    assert (answer.status_code, answer.json()) == (413, expected)
    assert server.admin("GET", "/api/manage/spaces/C-25").status_code == 200


def test_imports_keep_their_larger_limit(server: Server) -> None:
    description = "a" * (2 * MAX_BODY)
    body = json.dumps([{"id": "BIG-1", "description": description}]).encode()
    answer = server.admin(
        "POST",
        "/api/manage/spaces/import",
        headers={"Content-Type": "application/json"},
        content=iter([body]),
    )
    assert answer.status_code == 400, answer.text  # read whole, refused for its content
    assert answer.json()["code"] == "ImportRejected"
    status, content = raw_request(
        server,
        "POST /api/manage/spaces/import HTTP/1.1\nHost: roomline\n"
        f"Authorization: Bearer {ADMIN_TOKEN}\nContent-Length: {65 * 1024 * 1024}\n",
    )
    assert (status, json.loads(content)) == (
        413,
        {
            "message": f"The request body is larger than {64 * 1024 * 1024} bytes.",
            "code": "PayloadTooLarge",
        },
    )


# 3. Signing out ends the session for every copy of the cookie, on every host.


def test_signing_out_ends_every_copy_of_the_session(database_url: str, tmp_path: Path) -> None:
    first = start_server(database_url, tmp_path, command="serve")
    second = start_server(database_url, tmp_path, command="serve")
    browser, copy = WebClient(first), WebClient(second)
    try:
        assert browser.sign_in().status_code == 303
        copy.http.cookies.update(browser.http.cookies)
        csrf = copy.csrf("/web/keys")  # the copy works on the other host
        assert signed_in(copy)

        assert browser.post("/web/logout", {}).status_code == 303
        assert not signed_in(browser)
        assert not signed_in(copy)
        minted = copy.post(
            "/web/keys", {"csrf_token": csrf, "name": "stolen", "workflows": "get"}, csrf=False
        )
        assert minted.status_code == 303 and "/web/login" in minted.headers["location"]
        keys = first.admin("GET", "/api/manage/keys").json()
        assert [key["name"] for key in keys if key["name"] == "stolen"] == []

        assert browser.sign_in().status_code == 303  # a new session works again
        assert signed_in(browser) and not signed_in(copy)
    finally:
        browser.close()
        copy.close()
        second.stop()
        first.stop()


# 4. Wrong admin tokens are throttled per client address.


def throttled_server(database_url: str, tmp_path: Path, *args: str, **env: str) -> Server:
    return start_server(
        database_url,
        tmp_path,
        *args,
        command="serve",
        env={
            "ROOMLINE_FAILED_SIGN_IN_LIMIT": "3/minute",
            "ROOMLINE_TRUSTED_PROXIES": "127.0.0.1",
            **env,
        },
    )


def assert_wrong_tokens_are_throttled(server: Server) -> None:
    def spaces(token: str | None, client: str = "198.51.100.7") -> httpx.Response:
        headers = {"X-Forwarded-For": client}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return server.client.get("/api/manage/spaces", headers=headers)

    assert [spaces(None).status_code for _ in range(5)] == [401] * 5  # no guess, not counted
    assert [spaces(f"guess-{n}").status_code for n in range(3)] == [401] * 3
    for token in ("guess-4", ADMIN_TOKEN):  # the right token too: a guesser learns nothing
        refused = spaces(token)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.json() == {
            "message": "Too many requests: the limit of 3 requests per minute with a wrong "
            f"admin token from this address is reached; retry after {refused.headers['Retry-After']} seconds.",
            "code": "TooManyRequests",
        }
    web = WebClient(server)
    try:
        form = web.http.get("/web/login")
        refused = web.http.post(
            "/web/login",
            data={"csrf_token": csrf_from(form.text), "token": ADMIN_TOKEN, "next": "/web/"},
            headers={"X-Forwarded-For": "198.51.100.7"},
        )
        assert refused.status_code == 429
        assert "Retry-After" in refused.headers
        assert "with a wrong admin token from this address" in refused.text
        assert not signed_in(web)
    finally:
        web.close()
    # Another address, and the web sign-in's own count.
    assert spaces(ADMIN_TOKEN, client="198.51.100.8").status_code == 200
    other = WebClient(server)
    try:
        for _ in range(3):
            form = other.http.get("/web/login")
            wrong = other.http.post(
                "/web/login",
                data={"csrf_token": csrf_from(form.text), "token": "nope", "next": "/web/"},
                headers={"X-Forwarded-For": "198.51.100.9"},
            )
            assert wrong.status_code == 401
    finally:
        other.close()
    assert spaces(ADMIN_TOKEN, client="198.51.100.9").status_code == 429


def test_wrong_admin_tokens_are_throttled_per_address(database_url: str, tmp_path: Path) -> None:
    server = throttled_server(database_url, tmp_path, "--workers", "2")
    try:
        assert_wrong_tokens_are_throttled(server)
    finally:
        server.stop()


def test_wrong_admin_tokens_are_throttled_in_redis(tmp_path: Path) -> None:
    redis_url = redis_url_or_skip()
    prefix = f"roomline-test-{uuid.uuid4().hex[:12]}"
    server = throttled_server(
        f"sqlite:///{tmp_path / 'redis.db'}",
        tmp_path,
        "--redis-url",
        redis_url,
        ROOMLINE_REDIS_PREFIX=prefix,
    )
    store = redis.Redis.from_url(redis_url)
    try:
        assert_wrong_tokens_are_throttled(server)
        assert store.keys(f"{prefix}:*") != []  # counted in Redis
    finally:
        server.stop()
        for name in store.scan_iter(f"{prefix}:*"):
            store.delete(name)
        store.close()
