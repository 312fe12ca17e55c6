"""API keys through the real server (SPEC §5): IP allow-lists, proxies, revocation, hashes.

Two servers share one database: one listens on 127.0.0.1 (and trusts 127.0.0.1 as a
proxy), the other on ::1, so one key is tried from an IPv4 and an IPv6 address.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from roomline.services.api_keys import revoke_key
from roomline.storage.database import Database
from roomline.storage.tables import api_keys
from tests.conftest import TEST_NOW
from tests.security.helpers import (
    DEMO_GET,
    GET,
    make_key,
    pids_after_both_workers_answered,
    spread_gets,
    start_server_on_ipv6,
)
from tests.support import Server, start_server

MISSING_KEY = {"message": "Missing API key", "code": "MissingApiKey"}


def not_allowed(address: str) -> dict[str, str]:
    return {
        "message": f"This API key may not be used from {address}.",
        "type": "3",
        "code": "AddressNotAllowed",
    }


@pytest.fixture(scope="module")
def servers(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    logs = tmp_path_factory.mktemp("logs")
    v4 = start_server(
        module_database_url,
        logs,
        "--now",
        TEST_NOW,
        env={"ROOMLINE_TRUSTED_PROXIES": "127.0.0.1"},
    )
    try:
        v6 = start_server_on_ipv6(module_database_url, logs, "--now", TEST_NOW)
    except BaseException:
        v4.stop()
        raise
    yield v4, v6
    v6.stop()
    v4.stop()


@pytest.mark.parametrize(
    ("ip_allow", "from_ipv4", "from_ipv6"),
    [
        pytest.param("127.0.0.1", True, False, id="only IPv4 listed refuses IPv6"),
        pytest.param("::1", False, True, id="only IPv6 listed refuses IPv4"),
        pytest.param("127.0.0.1;::1", True, True, id="both families listed"),
        pytest.param("127.0.0.0-127.0.0.255", True, False, id="IPv4 range"),
        pytest.param("::-::ff", False, True, id="IPv6 range"),
        pytest.param("10.0.0.1-10.0.0.255;2001:db8::1-2001:db8::ff", False, False, id="elsewhere"),
        pytest.param(None, True, True, id="no allow-list"),
    ],
)
def test_ip_allow_list_admits_only_listed_addresses(
    servers: tuple[Server, Server], ip_allow: str | None, from_ipv4: bool, from_ipv6: bool
) -> None:
    v4, v6 = servers
    _, secret = make_key(v4.database_url, ip_allow=ip_allow)
    for server, admitted, address in ((v4, from_ipv4, "127.0.0.1"), (v6, from_ipv6, "::1")):
        response = server.call(GET, DEMO_GET, key=secret)
        if admitted:
            assert response.status_code == 200, response.text
        else:
            assert (response.status_code, response.json()) == (403, not_allowed(address))


@pytest.mark.parametrize(
    ("forwarded_for", "client"),
    [
        pytest.param("203.0.113.7", None, id="client behind the trusted proxy"),
        pytest.param("198.51.100.1, 203.0.113.7, 127.0.0.1", None, id="chain of trusted proxies"),
        pytest.param("203.0.113.7:51000", None, id="address with port"),
        pytest.param("198.51.100.1", "198.51.100.1", id="client outside the list"),
        pytest.param("203.0.113.7, 198.51.100.1", "198.51.100.1", id="prepended address ignored"),
        pytest.param("not-an-address", "an address that could not be determined", id="garbled"),
        pytest.param(None, "127.0.0.1", id="no header: the proxy itself"),
    ],
)
def test_forwarded_for_names_the_client_behind_a_trusted_proxy(
    servers: tuple[Server, Server], forwarded_for: str | None, client: str | None
) -> None:
    v4, _ = servers
    _, secret = make_key(v4.database_url, ip_allow="203.0.113.0-203.0.113.255")
    headers = {} if forwarded_for is None else {"X-Forwarded-For": forwarded_for}
    response = v4.call(GET, DEMO_GET, key=secret, headers=headers)
    if client is None:
        assert response.status_code == 200, response.text
    else:
        assert (response.status_code, response.json()) == (403, not_allowed(client))


def test_forwarded_for_from_an_untrusted_peer_is_ignored(servers: tuple[Server, Server]) -> None:
    _, v6 = servers
    _, secret = make_key(v6.database_url, ip_allow="203.0.113.0-203.0.113.255")
    response = v6.call(GET, DEMO_GET, key=secret, headers={"X-Forwarded-For": "203.0.113.7"})
    assert (response.status_code, response.json()) == (403, not_allowed("::1"))


def test_keys_are_stored_only_as_keyed_hashes(servers: tuple[Server, Server]) -> None:
    v4, _ = servers
    name, secret = make_key(v4.database_url)
    database = Database(v4.database_url)
    try:
        with database.read() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.name == name)).one()
    finally:
        database.dispose()
    stored = " ".join(str(value) for value in row)
    assert secret.lower() not in stored.lower()
    assert len(row.secret_hash) == 64  # HMAC-SHA256 under the instance's own key
    if v4.database_url.startswith("sqlite:///"):
        raw = Path(v4.database_url.removeprefix("sqlite:///")).read_bytes()
        assert secret.encode() not in raw and secret.lower().encode() not in raw


def test_a_revoked_key_is_refused_by_every_worker(database_url: str, tmp_path: Path) -> None:
    server = start_server(database_url, tmp_path, "--now", TEST_NOW, "--workers", "2")
    try:
        name, secret = make_key(database_url)
        assert {answer.status_code for answer in spread_gets(server, secret, 20)} == {200}

        database = Database(database_url)
        try:
            revoke_key(database, name, datetime.now(UTC))
        finally:
            database.dispose()

        def refused_batch() -> None:
            answers = spread_gets(server, secret, 60)
            assert [(a.status_code, a.json()) for a in answers] == [(401, MISSING_KEY)] * 60

        refused_batch()
        refused_by = pids_after_both_workers_answered(
            server, lambda line: line["status"] == 401, refused_batch
        )
        assert len(refused_by) == 2, f"expected both workers to refuse, got pids {refused_by}"
    finally:
        server.stop()
