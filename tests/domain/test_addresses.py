"""IP allow-lists in Ultimo's ``a-b;c`` notation."""

from __future__ import annotations

import pytest

from roomline.domain.addresses import allows, format_ip_allow, parse_ip_allow
from roomline.domain.errors import InvalidParameter


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        pytest.param("192.168.1.1-192.168.1.255", "192.168.1.1-192.168.1.255", id="ipv4 range"),
        pytest.param("10.0.0.7", "10.0.0.7", id="single ipv4"),
        pytest.param(
            " 10.0.0.1 - 10.0.0.5 ; 2001:db8::1-2001:db8::ff ;",
            "10.0.0.1-10.0.0.5;2001:db8::1-2001:db8::ff",
            id="both families, spaces, trailing separator",
        ),
        pytest.param("2001:DB8:0:0::1", "2001:db8::1", id="ipv6 written long"),
        pytest.param("10.1.0.0/16", "10.1.0.0-10.1.255.255", id="cidr network"),
        pytest.param("10.0.0.5-10.0.0.5", "10.0.0.5", id="one-address range"),
    ],
)
def test_parse_and_format(text: str, canonical: str) -> None:
    assert format_ip_allow(parse_ip_allow(text)) == canonical


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param(" ; ", "empty", id="only separators"),
        pytest.param("10.0.0.300", "'10.0.0.300' is not", id="bad octet"),
        pytest.param("10.0.0.9-10.0.0.1", "ends before it starts", id="reversed"),
        pytest.param("10.0.0.1-2001:db8::1", "mixes IPv4 and IPv6", id="mixed families"),
        pytest.param("10.0.0.1-", "is not an IPv4", id="open range"),
        pytest.param("10.0.0.1,10.0.0.2", "is not an IPv4", id="comma separator"),
        pytest.param("10.0.0.0/33", "is not a network", id="bad prefix"),
        pytest.param("localhost", "is not an IPv4", id="host name"),
    ],
)
def test_refused(text: str, fragment: str) -> None:
    with pytest.raises(InvalidParameter, match=fragment):
        parse_ip_allow(text)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        pytest.param("192.168.1.1", True, id="first of range"),
        pytest.param("192.168.1.255", True, id="last of range"),
        pytest.param("192.168.2.0", False, id="just past range"),
        pytest.param("10.0.0.7", True, id="single address"),
        pytest.param("::ffff:10.0.0.7", True, id="ipv4-mapped ipv6"),
        pytest.param("2001:db8::1", False, id="other family"),
        pytest.param("not an address", False, id="unreadable"),
    ],
)
def test_allows(address: str, expected: bool) -> None:
    ranges = parse_ip_allow("192.168.1.1-192.168.1.255;10.0.0.7")
    assert allows(ranges, address) is expected
