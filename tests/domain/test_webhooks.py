"""Webhook rules without a server: the retry schedule, Retry-After, and allowed targets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from roomline.domain.errors import InvalidParameter, InvalidWebhookUrl, WebhookTargetNotAllowed
from roomline.domain.webhooks import (
    RETRY_DELAYS,
    Targets,
    check_url,
    next_attempt_delay,
    parse_retry_after,
    signing_secrets,
)

NOW = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


def test_the_schedule_spans_about_three_days_then_gives_up() -> None:
    delays = [next_attempt_delay(n, None) for n in range(1, len(RETRY_DELAYS) + 2)]
    assert delays[:3] == [timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30)]
    assert delays[-1] is None
    total = sum((d for d in delays if d is not None), timedelta())
    assert timedelta(days=3) <= total <= timedelta(days=3, hours=6)


@pytest.mark.parametrize(
    ("failed", "retry_after", "expected"),
    [
        (1, timedelta(seconds=120), timedelta(seconds=120)),
        (2, timedelta(seconds=10), timedelta(minutes=5)),
        (1, timedelta(days=9), timedelta(hours=24)),
    ],
    ids=["later than the schedule", "sooner than the schedule", "capped at a day"],
)
def test_retry_after_can_only_delay(
    failed: int, retry_after: timedelta, expected: timedelta
) -> None:
    assert next_attempt_delay(failed, retry_after) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", timedelta(seconds=120)),
        ("Mon, 07 Jan 2030 09:02:00 GMT", timedelta(minutes=2)),
        ("Mon, 07 Jan 2030 08:00:00 GMT", timedelta(0)),
        ("soon", None),
        (None, None),
    ],
    ids=["seconds", "http date", "date in the past", "unreadable", "absent"],
)
def test_retry_after_reads_seconds_or_an_http_date(
    header: str | None, expected: timedelta | None
) -> None:
    assert parse_retry_after(header, NOW) == expected


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("203.0.113.7", True),
        ("10.1.2.3", True),
        ("2001:db8::1", True),
        ("127.0.0.1", False),
        ("127.8.8.8", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),
        ("169.254.169.254", False),
        ("169.254.10.1", False),
        ("fe80::1", False),
        ("fd00:ec2::254", False),
        ("0.0.0.0", False),
        ("::", False),
    ],
)
def test_default_targets_refuse_loopback_link_local_and_metadata(
    address: str, allowed: bool
) -> None:
    assert Targets.from_setting(None).allows(address) is allowed


def test_allowed_networks_replace_the_default() -> None:
    targets = Targets.from_setting("127.0.0.0/8; 10.0.0.0/8")
    assert targets.allows("127.0.0.1")
    assert not targets.allows("203.0.113.7")
    with pytest.raises(WebhookTargetNotAllowed, match=r"203\.0\.113\.7"):
        targets.check("http://x/", ["127.0.0.1", "203.0.113.7"])
    with pytest.raises(InvalidParameter):
        Targets.from_setting("10.0.0.0/33")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/",
        "example.org",
        "http:///path",
        "https://u:p@example.org/",
        "http://x:99999/",
    ],
)
def test_only_http_urls_with_a_host(url: str) -> None:
    with pytest.raises(InvalidWebhookUrl):
        check_url(url)


def test_a_url_gives_its_host_and_port() -> None:
    assert check_url("https://hooks.example.com/x") == ("hooks.example.com", 443)
    assert check_url("http://[::1]:8080/") == ("::1", 8080)


def test_a_rotated_out_secret_signs_until_its_moment_and_not_at_it() -> None:
    until = datetime(2031, 1, 1, 12, tzinfo=UTC)
    before = until - timedelta(microseconds=1)
    assert signing_secrets("whsec_new", "whsec_old", until, before) == ("whsec_new", "whsec_old")
    assert signing_secrets("whsec_new", "whsec_old", until, until) == ("whsec_new",)
    assert signing_secrets("whsec_new", None, None, before) == ("whsec_new",)
