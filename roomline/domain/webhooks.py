"""Webhook rules that need no database or network: targets, retry schedule, Retry-After.

Targets (SSRF guard): a webhook must not be aimed at the server's own admin surfaces or a
cloud's metadata service. ``ROOMLINE_WEBHOOK_ALLOWED_NETWORKS`` lists the networks a
target's addresses may lie in (CIDR networks joined by ``;``, read like the keys'
allow-lists); unset, every address is allowed except ``REFUSED_BY_DEFAULT``. Private
networks (10/8, 192.168/16 ...) are allowed by default: a self-hosted server's receivers
usually live on the same intranet.

Retries: the first attempt goes out at once; after a failed attempt the next waits
``RETRY_DELAYS[n]`` (or longer if the receiver's ``Retry-After`` says so), about three
days in all; after the last one the delivery has failed for good (a replay starts again).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from roomline.domain.addresses import AddressRange, parse_ip_allow
from roomline.domain.errors import InvalidWebhookUrl, WebhookTargetNotAllowed

RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
# A receiver may ask for a later retry, but not for one later than the longest step.
MAX_RETRY_AFTER = timedelta(hours=24)
MAX_URL_LENGTH = 2000

REFUSED_BY_DEFAULT = tuple(
    ipaddress.ip_network(network)
    for network in (
        "127.0.0.0/8",  # loopback
        "::1/128",
        "169.254.0.0/16",  # link-local, including the metadata address 169.254.169.254
        "fe80::/10",
        "fd00:ec2::254/128",  # AWS's IPv6 metadata address
        "0.0.0.0/32",  # unspecified: connects to this host
        "::/128",
    )
)


def next_attempt_delay(failed_attempts: int, retry_after: timedelta | None) -> timedelta | None:
    """How long to wait after the ``failed_attempts``-th failed attempt (None: give up)."""
    if failed_attempts > len(RETRY_DELAYS):
        return None
    delay = RETRY_DELAYS[failed_attempts - 1]
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def previous_secret_until(previous_until: datetime | None, now: datetime) -> datetime | None:
    """Until when the secret a rotation replaced still signs, as seen at ``now`` (None:
    it signs nothing, or there is none)."""
    return previous_until if previous_until is not None and now < previous_until else None


def signing_secrets(
    secret: str, previous: str | None, previous_until: datetime | None, now: datetime
) -> tuple[str, ...]:
    """The secrets that sign a delivery at ``now``: the subscription's, and the one a
    rotation replaced until it expires (Standard Webhooks: one signature for each, so a
    receiver holding either verifies it)."""
    if previous is not None and previous_secret_until(previous_until, now) is not None:
        return (secret, previous)
    return (secret,)


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """Read a ``Retry-After`` header: delay seconds or an HTTP date (None if unreadable)."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return timedelta(seconds=int(text[:9]))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(when - now, timedelta(0))


class Targets:
    """Which addresses webhooks may be sent to (None: all but REFUSED_BY_DEFAULT)."""

    def __init__(self, allowed: tuple[AddressRange, ...] | None) -> None:
        self.allowed = allowed

    @classmethod
    def from_setting(cls, text: str | None) -> Targets:
        """Read ``ROOMLINE_WEBHOOK_ALLOWED_NETWORKS``: CIDR networks joined by ``;``."""
        if text is None or not text.strip():
            return cls(None)
        return cls(parse_ip_allow(text))

    def allows(self, address: str) -> bool:
        parsed = ipaddress.ip_address(address.split("%")[0])
        if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
            parsed = parsed.ipv4_mapped
        if self.allowed is None:
            return not any(parsed in network for network in REFUSED_BY_DEFAULT)
        return any(one.contains(parsed) for one in self.allowed)

    def check(self, url: str, addresses: Iterable[str]) -> None:
        """Refuse the target unless every address its host resolves to is allowed."""
        refused = sorted({a for a in addresses if not self.allows(a)})
        if refused:
            rule = (
                "ROOMLINE_WEBHOOK_ALLOWED_NETWORKS"
                if self.allowed is not None
                else "loopback, link-local and metadata addresses are refused unless "
                "ROOMLINE_WEBHOOK_ALLOWED_NETWORKS allows them"
            )
            raise WebhookTargetNotAllowed(
                f"Webhook target {url} resolves to {', '.join(refused)}, which is not "
                f"allowed ({rule})."
            )


def check_url(url: str) -> tuple[str, int]:
    """Check a webhook URL's form (http or https, a host, no credentials); return its host
    and port."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidWebhookUrl(f"The webhook URL is longer than {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidWebhookUrl(f"The webhook URL {url!r} cannot be read: {exc}.") from exc
    if parts.scheme not in ("http", "https"):
        raise InvalidWebhookUrl(f"The webhook URL {url!r} must start with http:// or https://.")
    if not parts.hostname:
        raise InvalidWebhookUrl(f"The webhook URL {url!r} names no host.")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookUrl(
            "The webhook URL must not hold a user name or password; receivers check the "
            "signature instead."
        )
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise InvalidWebhookUrl("The webhook URL must not contain spaces or control characters.")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)
