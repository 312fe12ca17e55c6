"""IP allow-lists as Ultimo writes them: ranges ``a-b`` or single addresses, joined by ``;``.

``192.168.1.1-192.168.1.255;10.0.0.7;2001:db8::1-2001:db8::ff`` is one allow-list; CIDR
networks (``10.0.0.0/8``) are accepted as a convenience. Parsing is pure and strict: a
range's ends share one address family and run upwards. Which family is refused when only
the other is listed is an enforcement question, answered by ``allows``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from roomline.domain.errors import InvalidParameter

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_ENTRIES = 256
MAX_TEXT_LENGTH = 16_384


@dataclass(frozen=True, slots=True)
class AddressRange:
    """An inclusive range ``[first, last]`` of addresses of one family."""

    first: Address
    last: Address

    @property
    def version(self) -> int:
        return self.first.version

    def contains(self, address: Address) -> bool:
        return address.version == self.version and self.first <= address <= self.last  # type: ignore[operator]

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"


def parse_ip_allow(text: str) -> tuple[AddressRange, ...]:
    """Read an allow-list; raise InvalidParameter naming the entry that is wrong."""
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidParameter(f"The IP allow-list is longer than {MAX_TEXT_LENGTH} characters.")
    entries = [entry.strip() for entry in text.split(";") if entry.strip()]
    if not entries:
        raise InvalidParameter(
            "The IP allow-list is empty; give ranges such as '192.168.1.1-192.168.1.255;10.0.0.7'."
        )
    if len(entries) > MAX_ENTRIES:
        raise InvalidParameter(f"The IP allow-list has more than {MAX_ENTRIES} entries.")
    return tuple(_entry(entry) for entry in entries)


def format_ip_allow(ranges: Iterable[AddressRange]) -> str:
    """Write ranges back in the canonical ``a-b;c`` form."""
    return ";".join(str(one) for one in ranges)


def allows(ranges: Iterable[AddressRange], address: str) -> bool:
    """Return whether ``address`` lies in one of ``ranges`` (an unreadable address never does)."""
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped  # ::ffff:10.0.0.7 is how dual-stack sockets show 10.0.0.7
    return any(one.contains(parsed) for one in ranges)


def _entry(entry: str) -> AddressRange:
    if "/" in entry:
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError as exc:
            raise InvalidParameter(f"IP allow-list entry {entry!r} is not a network.") from exc
        return AddressRange(network.network_address, network.broadcast_address)
    # An IPv6 address holds no '-', so one '-' splits a range of either family.
    first_text, dash, last_text = entry.partition("-")
    first = _address(entry, first_text)
    last = _address(entry, last_text) if dash else first
    if first.version != last.version:
        raise InvalidParameter(
            f"IP allow-list range {entry!r} mixes IPv{first.version} and IPv{last.version}."
        )
    if last < first:  # type: ignore[operator]
        raise InvalidParameter(f"IP allow-list range {entry!r} ends before it starts.")
    return AddressRange(first, last)


def _address(entry: str, text: str) -> Address:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError as exc:
        raise InvalidParameter(
            f"IP allow-list entry {entry!r} is not an IPv4 or IPv6 address or a range 'a-b'."
        ) from exc
