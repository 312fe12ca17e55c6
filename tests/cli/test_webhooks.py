"""``roomline webhooks``: add (the secret printed once), list, ping, deliveries, replay,
remove — against a real database and a real receiver."""

from __future__ import annotations

import json

import pytest
from standardwebhooks.webhooks import Webhook

from tests.api.receiver import Answer, running_receiver
from tests.cli.conftest import Cli


@pytest.fixture(autouse=True)
def loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROOMLINE_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8")


def test_the_whole_round(cli: Cli) -> None:
    cli("spaces", "add", "C-25")
    with running_receiver(Answer(200, body=b"pong"), Answer(500, body=b"down")) as receiver:
        added = cli(
            "webhooks",
            "add",
            "--url",
            receiver.url,
            "--events",
            "reservation.created,reservation.cancelled",
            "--space",
            "C-25",
        ).stdout.splitlines()
        assert added[:3] == [
            f"added webhook 1: {receiver.url}",
            "events: reservation.created, reservation.cancelled",
            "spaces: C-25",
        ]
        secret = added[-1]
        assert secret.startswith("whsec_")

        [listed] = cli.json("webhooks", "list")
        assert listed["events"] == ["reservation.created", "reservation.cancelled"]
        assert listed["status"] == "active"
        assert "secret" not in listed
        assert secret not in cli("webhooks", "list").stdout

        pinged = cli("webhooks", "ping", "1").stdout
        assert pinged.startswith("delivery 1: HTTP 200 in ")
        assert "answer: pong" in pinged
        [ping] = receiver.wait(1)
        assert Webhook(secret).verify(ping.body, ping.headers)["type"] == "webhook.ping"

        failed = cli("webhooks", "ping", "1", ok=False)
        assert failed.stdout.startswith("delivery 2: HTTP 500 in ")
        assert failed.stderr == "error: the receiver did not accept the ping\n"

        [only_failed] = cli.json("webhooks", "deliveries", "1", "--failed")
        assert only_failed["id"] == 2
        assert only_failed["attempts"][0]["response_excerpt"] == "down"
        table = cli("webhooks", "deliveries", "1").stdout.splitlines()
        assert table[0].split() == [
            "DELIVERY",
            "TYPE",
            "CURSOR",
            "STATUS",
            "ATTEMPTS",
            "LAST",
            "ATTEMPT",
            "NEXT",
            "ATTEMPT",
        ]
        assert [line.split()[:4] for line in table[1:]] == [
            ["2", "webhook.ping", "-", "failed"],
            ["1", "webhook.ping", "-", "succeeded"],
        ]

        replayed = cli("webhooks", "replay", "2").stdout
        assert replayed.startswith(f"delivery 2 ({only_failed['message_id']}) is due again at ")
        assert cli.json("webhooks", "deliveries", "1", "--failed") == []

        assert cli("webhooks", "remove", "1").stdout == f"removed webhook 1: {receiver.url}\n"
        assert cli.json("webhooks", "list") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--url", "http://127.0.0.1/", "--events", "reservation.moved"],
            "Unknown event type 'reservation.moved'",
        ),
        (
            ["--url", "gopher://x/", "--events", "reservation.created"],
            "must start with http:// or https://",
        ),
        (
            ["--url", "http://127.0.0.1/", "--events", "reservation.created", "--space", "X-1"],
            "'X-1' is not a known space",
        ),
        (
            ["--url", "http://[::1]/", "--events", "reservation.created"],
            "resolves to ::1, which is not allowed",
        ),
    ],
    ids=["unknown event", "scheme", "unknown space", "not allowed"],
)
def test_bad_subscriptions_are_refused(cli: Cli, args: list[str], message: str) -> None:
    refused = cli("webhooks", "add", *args, ok=False)
    assert message in refused.stderr
    assert cli.json("webhooks", "list") == []


def test_unknown_ids_are_named(cli: Cli) -> None:
    assert "no webhook subscription 9" in cli("webhooks", "remove", "9", ok=False).stderr
    assert "no webhook delivery 9" in cli("webhooks", "replay", "9", ok=False).stderr
    assert "no webhook subscription 9" in cli("webhooks", "ping", "9", ok=False).stderr
    assert json.loads("[]") == cli.json("webhooks", "list")


def test_a_new_secret_and_the_old_one_sign_until_it_expires(cli: Cli) -> None:
    with running_receiver(Answer(200), Answer(200), Answer(200)) as receiver:
        added = cli("webhooks", "add", "--url", receiver.url, "--events", "reservation.created")
        old = added.stdout.splitlines()[-1]

        rotated = cli("webhooks", "rotate-secret", "1", "--keep-previous-hours", "2")
        lines = rotated.stdout.splitlines()
        assert lines[:2] == [
            f"new secret for webhook 1: {receiver.url}",
            "secret (shown only now; verify each delivery's webhook-signature with it):",
        ]
        new = lines[2]
        assert new.startswith("whsec_") and new != old
        assert lines[3].startswith("the previous secret also signs each delivery until ")
        [listed] = cli.json("webhooks", "list")
        assert lines[3].endswith(listed["previous_secret_expires_at"])

        cli("webhooks", "ping", "1")
        [ping] = receiver.wait(1)
        assert len(ping.headers["webhook-signature"].split(" ")) == 2
        for secret in (old, new):  # a receiver holding either secret accepts it
            Webhook(secret).verify(ping.body, ping.headers)

        refused = cli("webhooks", "rotate-secret", "1", "--keep-previous-hours", "169", ok=False)
        assert "keep_previous_hours must be between 0 and 168 (a week); got 169" in refused.stderr
        at_once = cli.json("webhooks", "rotate-secret", "1", "--keep-previous-hours", "0")
        assert at_once["previous_secret_expires_at"] is None
        cli("webhooks", "ping", "1")
        single = receiver.wait(2)[1]
        assert len(single.headers["webhook-signature"].split(" ")) == 1
        Webhook(at_once["secret"]).verify(single.body, single.headers)
    assert "no webhook subscription 9" in cli("webhooks", "rotate-secret", "9", ok=False).stderr
