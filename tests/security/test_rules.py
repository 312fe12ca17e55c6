"""The pure rules behind limits and addresses: rate-limit notation, proxies, allow-lists."""

from __future__ import annotations

import pytest

from roomline.api.observability import client_address
from roomline.domain.addresses import parse_ip_allow
from roomline.services.keys import address_allowed
from roomline.services.limits import RateLimit, parse_rate_limits


@pytest.mark.parametrize(
    ("text", "limits"),
    [
        pytest.param("100/10 seconds", [(100, 10)], id="Ultimo's preset"),
        pytest.param("100 per 10 seconds", [(100, 10)], id="per"),
        pytest.param("100/10s", [(100, 10)], id="abbreviated"),
        pytest.param("5/second", [(5, 1)], id="implicit one"),
        pytest.param("10/second; 500/hour", [(10, 1), (500, 3600)], id="several"),
        pytest.param("2/d", [(2, 86400)], id="day"),
        pytest.param("3/5 MINUTES", [(3, 300)], id="any case"),
    ],
)
def test_rate_limit_notation(text: str, limits: list[tuple[int, int]]) -> None:
    assert parse_rate_limits(text) == tuple(RateLimit(a, s) for a, s in limits)


@pytest.mark.parametrize(
    "text", ["", "100", "100/ms", "0/second", "100/0 seconds", "ten/second", "100/10 fortnights"]
)
def test_rate_limit_notation_refuses_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="rate limit"):
        parse_rate_limits(text)


@pytest.mark.parametrize(
    ("limit", "text"),
    [
        ((100, 10), "100 requests per 10 seconds"),
        ((5, 1), "5 requests per second"),
        ((500, 3600), "500 requests per hour"),
        ((7, 90), "7 requests per 90 seconds"),
        ((2, 172800), "2 requests per 2 days"),
    ],
)
def test_rate_limits_read_as_people_write_them(limit: tuple[int, int], text: str) -> None:
    assert str(RateLimit(*limit)) == text


TRUSTED = parse_ip_allow("10.0.0.2;10.0.1.0/24;::1")


def scope(peer: str | None, *forwarded: str) -> dict[str, object]:
    return {
        "client": None if peer is None else (peer, 50000),
        "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded],
    }


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        pytest.param("203.0.113.9", ["198.51.100.1"], "203.0.113.9", id="untrusted peer"),
        pytest.param("10.0.0.2", [], "10.0.0.2", id="trusted peer, no header"),
        pytest.param("10.0.0.2", ["198.51.100.1"], "198.51.100.1", id="behind a proxy"),
        pytest.param("10.0.0.2", ["198.51.100.1, 10.0.1.7"], "198.51.100.1", id="two trusted hops"),
        pytest.param(
            "10.0.0.2", ["192.0.2.66, 198.51.100.1"], "198.51.100.1", id="prepended ignored"
        ),
        pytest.param("10.0.0.2", ["192.0.2.66", "198.51.100.1"], "198.51.100.1", id="two headers"),
        pytest.param("10.0.0.2", ["10.0.1.7, 10.0.0.2"], "10.0.1.7", id="all trusted"),
        pytest.param("10.0.0.2", ["198.51.100.1:443"], "198.51.100.1", id="v4 with port"),
        pytest.param("10.0.0.2", ["[2001:db8::5]:443"], "2001:db8::5", id="v6 with port"),
        pytest.param("::1", ["2001:db8::5"], "2001:db8::5", id="v6 proxy"),
        pytest.param("10.0.0.2", ["unknown"], None, id="garbled"),
        pytest.param("::ffff:10.0.0.2", ["198.51.100.1"], "198.51.100.1", id="mapped proxy"),
        pytest.param("::ffff:203.0.113.9", [], "203.0.113.9", id="mapped client"),
        pytest.param(None, ["198.51.100.1"], None, id="no peer"),
    ],
)
def test_client_address(peer: str | None, forwarded: list[str], client: str | None) -> None:
    assert client_address(scope(peer, *forwarded), TRUSTED) == client


def test_forwarded_for_is_ignored_without_trusted_proxies() -> None:
    assert client_address(scope("10.0.0.2", "198.51.100.1"), None) == "10.0.0.2"


@pytest.mark.parametrize(
    ("ip_allow", "address", "allowed"),
    [
        pytest.param(None, None, True, id="no list, unknown address"),
        pytest.param("  ", "192.0.2.1", True, id="blank list"),
        pytest.param("192.0.2.0-192.0.2.255", "192.0.2.77", True, id="in range"),
        pytest.param("192.0.2.0-192.0.2.255", "192.0.3.1", False, id="outside range"),
        pytest.param("192.0.2.0-192.0.2.255", "2001:db8::1", False, id="IPv6 when only IPv4"),
        pytest.param("2001:db8::-2001:db8::ff", "192.0.2.1", False, id="IPv4 when only IPv6"),
        pytest.param("192.0.2.1;2001:db8::1", "2001:db8::1", True, id="both families"),
        pytest.param("192.0.2.1", "::ffff:192.0.2.1", True, id="mapped IPv4"),
        pytest.param("192.0.2.1", None, False, id="unknown address"),
        pytest.param("not a list", "192.0.2.1", False, id="damaged list admits nobody"),
    ],
)
def test_address_allowed(ip_allow: str | None, address: str | None, allowed: bool) -> None:
    assert address_allowed(ip_allow, address) is allowed
