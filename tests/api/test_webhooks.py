"""Webhooks end to end: a real server, its database, and real receivers in this process.

The demo server's clock is pinned, so retries wait for the test to move it
(``/api/demo/clock/advance``), never for real time.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from roomline.client import ManageClient, verify_webhook
from tests.api.receiver import Answer, Receiver, running_receiver
from tests.conftest import TEST_NOW, World
from tests.support import ADMIN_TOKEN, DEMO_KEY, Server, roomline, start_server

LOOPBACK_ALLOWED = {"ROOMLINE_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8"}
_days = itertools.count(1)


@pytest.fixture(scope="module")
def server(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A demo server, clock pinned at TEST_NOW, that may send webhooks to 127.0.0.0/8."""
    running = start_server(
        module_database_url,
        tmp_path_factory.mktemp("logs"),
        "--now",
        TEST_NOW,
        env=LOOPBACK_ALLOWED,
    )
    yield running
    running.stop()


def subscribe(server: Server, url: str, events: list[str], spaces: list[str]) -> dict[str, Any]:
    answer = server.admin(
        "POST", "/api/manage/webhooks", json={"url": url, "events": events, "spaces": spaces}
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def create(server: Server, space_id: str, day: int, hour: int = 10) -> str:
    answer = server.call(
        "REST_CreateReservation",
        {
            "ExternalId": "",
            "Description": "Webhook test",
            "SpaceId": space_id,
            "StartTime": f"2030-02-{day:02d} {hour:02d}:00:00",
            "EndTime": f"2030-02-{day:02d} {hour + 1:02d}:00:00",
            "ApplicantId": "ULTIMO",
        },
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["Properties"]["UltimoId"])


def advance(server: Server, seconds: float) -> None:
    answer = server.admin("POST", "/api/demo/clock/advance", json={"seconds": seconds})
    assert answer.status_code == 200, answer.text


def deliveries(server: Server, subscription_id: int, **params: Any) -> list[dict[str, Any]]:
    answer = server.admin(
        "GET", f"/api/manage/webhooks/{subscription_id}/deliveries", params=params
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def settled(
    server: Server, subscription_id: int, count: int, status: str | None = None
) -> list[dict[str, Any]]:
    """Wait until ``count`` deliveries exist, each attempted (the attempt is recorded after
    the receiver answered) and, if given, all with ``status``."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = deliveries(server, subscription_id)
        if len(found) == count and all(
            (d["status"] != "pending" or d["attempt_count"] > 0)
            and (status is None or d["status"] == status)
            for d in found
        ):
            return found
        time.sleep(0.05)
    raise AssertionError(deliveries(server, subscription_id))


def quiet(receiver: Receiver, count: int, seconds: float = 2.5) -> None:
    """Assert that nothing beyond ``count`` requests arrives for ``seconds``."""
    time.sleep(seconds)
    assert len(receiver.started) == count


def test_a_change_reaches_the_receiver_signed_as_standard_webhooks(
    server: Server, world: World
) -> None:
    space = world.space()
    with running_receiver() as receiver:
        added = subscribe(
            server, receiver.url, ["reservation.created", "reservation.cancelled"], [space.id]
        )
        assert added["secret"].startswith("whsec_")
        ultimo_id = create(server, space.id, next(_days))
        [got] = receiver.wait(1)
        # Any Standard Webhooks library verifies it; so does roomline's client.
        event = Webhook(added["secret"]).verify(got.body, got.headers)
        assert verify_webhook(added["secret"], got.body, got.headers).data == event["data"]
        feed = server.client.get(
            "/api/booking/changes",
            params={"after": added["start_cursor"], "space": space.id},
            headers={"ApiKey": DEMO_KEY},
        ).json()["events"]
        assert event == {"type": "reservation.created", "timestamp": feed[0]["at"], "data": feed[0]}
        assert event["data"]["reservation"]["ultimo_id"] == ultimo_id
        assert got.headers["content-type"] == "application/json"
        assert got.headers["webhook-signature"].startswith("v1,")
        [delivery] = settled(server, added["id"], 1, "succeeded")
        assert delivery["message_id"] == got.headers["webhook-id"]
        assert delivery["attempts"][0]["status_code"] == 200
        assert delivery["attempts"][0]["response_excerpt"] == "ok"

        # An update is not subscribed to; the cancel is.
        moved = server.call(
            "REST_UpdateReservation",
            {
                "UltimoId": ultimo_id,
                "StartTime": "2030-03-01 09:00:00",
                "EndTime": "2030-03-01 10:00:00",
            },
        )
        assert moved.status_code == 200, moved.text
        assert server.call("REST_CancelReservation", {"UltimoId": ultimo_id}).status_code == 200
        first, second = receiver.wait(2)
        assert json.loads(second.body)["type"] == "reservation.cancelled"
        assert second.headers["webhook-id"] != first.headers["webhook-id"]
        quiet(receiver, 2, 1.0)


def test_an_answer_with_nul_bytes_is_kept_with_replacement_characters(
    server: Server, world: World
) -> None:
    """PostgreSQL's text cannot hold U+0000, and a receiver's answer is anything it sends:
    the attempt is kept with U+FFFD in the excerpt, as for bytes that are not UTF-8, and the
    deliveries after it go on."""
    space = world.space()
    with running_receiver(Answer(200, body=b"ok\x00\xff!")) as receiver:
        added = subscribe(server, receiver.url, ["reservation.created"], [space.id])
        create(server, space.id, next(_days))
        create(server, space.id, next(_days))
        receiver.wait(2)
        found = settled(server, added["id"], 2, "succeeded")
    excerpts = sorted(d["attempts"][0]["response_excerpt"] for d in found)
    assert excerpts == ["ok", "ok\ufffd\ufffd!"]


def test_a_receiver_failing_twice_gets_the_event_accepted_once(
    server: Server, world: World
) -> None:
    space = world.space()
    with running_receiver(Answer(500, body=b"boom"), Answer(503)) as receiver:
        added = subscribe(server, receiver.url, ["reservation.created"], [space.id])
        create(server, space.id, next(_days))
        receiver.wait(1)
        [waiting] = settled(server, added["id"], 1)
        assert waiting["status"] == "pending"
        assert waiting["attempts"][0]["response_excerpt"] == "boom"
        quiet(receiver, 1, 1.5)  # the first retry waits 5 s of the server's clock
        advance(server, 6)
        receiver.wait(2)
        advance(server, 5 * 60 + 1)
        requests = receiver.wait(3)
        assert len({r.headers["webhook-id"] for r in requests}) == 1
        assert [r.body for r in requests] == [requests[0].body] * 3
        assert len(receiver.accepted()) == 1
        [delivery] = settled(server, added["id"], 1, "succeeded")
        assert delivery["attempt_count"] == 3
        assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 200]
        advance(server, 3 * 24 * 3600)
        quiet(receiver, 3, 1.5)


def test_retry_after_is_honoured(server: Server, world: World) -> None:
    space = world.space()
    with running_receiver(Answer(429, {"Retry-After": "120"})) as receiver:
        added = subscribe(server, receiver.url, ["reservation.created"], [space.id])
        create(server, space.id, next(_days))
        receiver.wait(1)
        [waiting] = settled(server, added["id"], 1)
        attempted = waiting["attempts"][0]["at"]
        assert waiting["next_attempt_at"] == _plus(attempted, 120)
        advance(server, 10)  # past the schedule's 5 s, not past Retry-After
        quiet(receiver, 1)
        advance(server, 111)
        receiver.wait(2)
        settled(server, added["id"], 1, "succeeded")


def test_410_gone_disables_the_subscription(server: Server, world: World) -> None:
    space = world.space()
    with running_receiver(Answer(410)) as receiver:
        added = subscribe(server, receiver.url, ["reservation.created"], [space.id])
        create(server, space.id, next(_days))
        receiver.wait(1)
        [delivery] = settled(server, added["id"], 1, "disabled")
        [listed] = [
            s for s in server.admin("GET", "/api/manage/webhooks").json() if s["id"] == added["id"]
        ]
        assert listed["status"] == "disabled"
        assert listed["disabled_reason"] == "The receiver answered 410 Gone."
        create(server, space.id, next(_days))
        quiet(receiver, 1)
        assert len(deliveries(server, added["id"])) == 1
        replay = server.admin("POST", f"/api/manage/webhooks/deliveries/{delivery['id']}/replay")
        assert replay.status_code == 409
        assert replay.json()["code"] == "WebhookDisabled"


def test_a_rolled_back_change_sends_nothing(server: Server, world: World) -> None:
    space = world.space()
    day = next(_days)
    with running_receiver() as receiver:
        added = subscribe(server, receiver.url, ["reservation.created"], [space.id])
        first = create(server, space.id, day)
        refused = server.call(
            "REST_CreateReservation",
            {
                "ExternalId": "",
                "Description": "Overlaps",
                "SpaceId": space.id,
                "StartTime": f"2030-02-{day:02d} 10:30:00",
                "EndTime": f"2030-02-{day:02d} 11:30:00",
                "ApplicantId": "ULTIMO",
            },
        )
        assert refused.json()["code"] == "1015"
        second = create(server, space.id, day, hour=14)
        got = receiver.wait(2)
        quiet(receiver, 2, 1.5)
        sent = {json.loads(r.body)["data"]["reservation"]["ultimo_id"] for r in got}
        assert sent == {first, second}
        settled(server, added["id"], 2, "succeeded")


def test_replay_sends_the_same_message_again_and_ping_answers_now(
    server: Server, world: World
) -> None:
    space = world.space()
    with running_receiver(Answer(200), Answer(200), Answer(418, body=b"teapot")) as receiver:
        added = subscribe(server, receiver.url, ["reservation.created"], [space.id])
        create(server, space.id, next(_days))
        receiver.wait(1)
        [delivery] = settled(server, added["id"], 1, "succeeded")
        replayed = server.admin("POST", f"/api/manage/webhooks/deliveries/{delivery['id']}/replay")
        assert replayed.status_code == 200, replayed.text
        first, again = receiver.wait(2)
        assert again.headers["webhook-id"] == first.headers["webhook-id"]
        assert again.body == first.body

        pinged = server.admin("POST", f"/api/manage/webhooks/{added['id']}/ping")
        assert pinged.status_code == 200, pinged.text
        assert pinged.json()["status_code"] == 418
        assert pinged.json()["response_excerpt"] == "teapot"
        ping = receiver.wait(3)[2]
        event = Webhook(added["secret"]).verify(ping.body, ping.headers)
        assert event["type"] == "webhook.ping"
        assert event["data"] == {"subscription_id": added["id"], "url": receiver.url}
        failed = deliveries(server, added["id"], failed="true")
        assert [d["type"] for d in failed] == ["webhook.ping"]
        assert failed[0]["status"] == "failed"  # a ping is not retried

        removed = server.admin("DELETE", f"/api/manage/webhooks/{added['id']}")
        assert removed.status_code == 200
        assert (
            server.admin("GET", f"/api/manage/webhooks/{added['id']}/deliveries").json()["code"]
            == "RecordNotFound"
        )
        create(server, space.id, next(_days))
        quiet(receiver, 3, 1.5)


def test_the_manage_client_replays_and_pings(server: Server, world: World) -> None:
    space = world.space()
    with (
        ManageClient(server.base_url, ADMIN_TOKEN) as admin,
        running_receiver(Answer(200), Answer(200), Answer(200)) as receiver,
    ):
        added = admin.add_webhook(receiver.url, ["reservation.created"], spaces=[space.id])
        create(server, space.id, next(_days))
        receiver.wait(1)
        [delivery] = settled(server, added["id"], 1, "succeeded")
        replayed = admin.replay_delivery(delivery["id"])
        assert (replayed["id"], replayed["message_id"]) == (delivery["id"], delivery["message_id"])
        pinged = admin.ping_webhook(added["id"])
        assert pinged["status_code"] == 200
        # The replay goes out with the next round, the ping at once: either may come first.
        got = receiver.wait(3)
        types = [Webhook(added["secret"]).verify(r.body, r.headers)["type"] for r in got]
        assert sorted(types) == ["reservation.created", "reservation.created", "webhook.ping"]
        sent_twice = [
            r.headers["webhook-id"] for r, t in zip(got, types, strict=True) if t != "webhook.ping"
        ]
        assert sent_twice == [delivery["message_id"]] * 2
        listed = admin.webhook_deliveries(added["id"])
        assert {d["id"] for d in listed} == {delivery["id"], pinged["delivery_id"]}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"url": "ftp://example.org/", "events": ["reservation.created"]}, "InvalidWebhookUrl"),
        (
            {"url": "http://user:pw@example.org/", "events": ["reservation.created"]},
            "InvalidWebhookUrl",
        ),
        ({"url": "https://example.org/", "events": ["reservation.made"]}, "UnknownEventType"),
        ({"url": "https://example.org/", "events": []}, "InvalidParameter"),
        (
            {"url": "http://[::1]:8080/", "events": ["reservation.created"]},
            "WebhookTargetNotAllowed",
        ),
        (
            {"url": "http://169.254.169.254/latest", "events": ["reservation.created"]},
            "WebhookTargetNotAllowed",
        ),
        (
            {"url": "http://127.0.0.1/", "events": ["reservation.created"], "spaces": ["NOPE"]},
            "UnknownSpace",
        ),
    ],
    ids=[
        "ftp",
        "credentials",
        "unknown event",
        "no event",
        "ipv6 loopback",
        "metadata",
        "unknown space",
    ],
)
def test_bad_subscriptions_are_refused_and_nothing_is_stored(
    server: Server, body: dict[str, Any], code: str
) -> None:
    before = server.admin("GET", "/api/manage/webhooks").json()
    answer = server.admin("POST", "/api/manage/webhooks", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == code
    assert server.admin("GET", "/api/manage/webhooks").json() == before


def test_loopback_is_refused_unless_allowed_and_checked_again_at_delivery(
    server: Server, world: World, tmp_path: Path
) -> None:
    refused = roomline(
        "webhooks",
        "add",
        "--url",
        "http://127.0.0.1:9/hook",
        "--events",
        "reservation.created",
        "--database-url",
        server.database_url,
        cwd=tmp_path,
    )
    assert refused.returncode == 1
    assert "resolves to 127.0.0.1, which is not allowed" in refused.stderr

    # Added where ::1 was allowed; the server (127.0.0.0/8 only) refuses to send there.
    space = world.space()
    added = roomline(
        "webhooks",
        "add",
        "--url",
        "http://[::1]:9/hook",
        "--events",
        "reservation.created",
        "--space",
        space.id,
        "--json",
        "--database-url",
        server.database_url,
        cwd=tmp_path,
        env={"ROOMLINE_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8;::1/128"},
    )
    assert added.returncode == 0, added.stderr
    subscription = json.loads(added.stdout)
    create(server, space.id, next(_days))
    [delivery] = settled(server, subscription["id"], 1)
    assert delivery["attempts"][0]["status_code"] is None
    assert delivery["attempts"][0]["error"].startswith("refused, not sent: Webhook target")


def _plus(iso: str, seconds: int) -> str:
    from datetime import datetime, timedelta

    from roomline.domain.times import format_iso, zone_named

    return format_iso(datetime.fromisoformat(iso) + timedelta(seconds=seconds), zone_named("UTC"))


def test_an_attempt_ends_after_15_seconds(server: Server, world: World) -> None:
    space = world.space()
    with running_receiver(Answer(200, hold_seconds=17)) as receiver:
        added = subscribe(server, receiver.url, ["reservation.created"], [space.id])
        create(server, space.id, next(_days))
        receiver.wait_started(1)
        [delivery] = settled(server, added["id"], 1)
        attempt = delivery["attempts"][0]
        assert attempt["error"] == "no answer within 15 s"
        assert 15_000 <= attempt["duration_ms"] < 16_000
        assert delivery["status"] == "pending"  # retried on the schedule


def test_a_delivery_that_ended_goes_once_the_feed_no_longer_reaches_it(
    database_url: str, tmp_path: Path, make_world: Any
) -> None:
    """The background pruner deletes a delivery that ended, with its attempts, once
    ROOMLINE_EVENT_RETENTION_DAYS have passed (a server of its own: its clock moves days)."""
    env = {**LOOPBACK_ALLOWED, "ROOMLINE_EVENT_RETENTION_DAYS": "2"}
    server = start_server(database_url, tmp_path, "--now", TEST_NOW, env=env)
    try:
        space = make_world(database_url).space()
        with running_receiver() as receiver:
            added = subscribe(server, receiver.url, ["reservation.created"], [])
            create(server, space.id, 20)
            settled(server, added["id"], 1, "succeeded")

            advance(server, 3 * 86_400)  # the demo's pruner looks every 5 s
            deadline = time.monotonic() + 30
            while deliveries(server, added["id"]) and time.monotonic() < deadline:
                time.sleep(0.5)
            assert deliveries(server, added["id"]) == []
    finally:
        server.stop()


def test_a_new_secret_signs_beside_the_old_one_until_it_expires(
    server: Server, world: World
) -> None:
    space = world.space()
    with running_receiver() as receiver:
        added = subscribe(server, receiver.url, ["reservation.created"], [space.id])
        path = f"/api/manage/webhooks/{added['id']}/rotate-secret"
        answer = server.admin("POST", path, json={"keep_previous_hours": 2})
        assert answer.status_code == 200, answer.text
        rotated = answer.json()
        assert rotated["secret"].startswith("whsec_") and rotated["secret"] != added["secret"]
        assert rotated["id"] == added["id"]

        create(server, space.id, next(_days))
        [both] = receiver.wait(1)
        assert len(both.headers["webhook-signature"].split(" ")) == 2
        for secret in (added["secret"], rotated["secret"]):  # either secret verifies it
            Webhook(secret).verify(both.body, both.headers)

        refused = server.admin("POST", path, json={"keep_previous_hours": -1})
        assert refused.status_code == 400
        assert refused.json()["code"] == "InvalidParameter"
        missing = server.admin("POST", "/api/manage/webhooks/9999/rotate-secret")
        assert (missing.status_code, missing.json()["code"]) == (404, "RecordNotFound")

        listed = server.admin("GET", "/api/manage/webhooks").json()
        [shown] = [hook for hook in listed if hook["id"] == added["id"]]
        assert shown["previous_secret_expires_at"] == rotated["previous_secret_expires_at"]
        assert "secret" not in shown

        advance(server, 2 * 3600)  # the old secret's two hours are over
        listed = server.admin("GET", "/api/manage/webhooks").json()
        [shown] = [hook for hook in listed if hook["id"] == added["id"]]
        assert shown["previous_secret_expires_at"] is None
        create(server, space.id, next(_days))
        one = receiver.wait(2)[1]
        assert len(one.headers["webhook-signature"].split(" ")) == 1
        Webhook(rotated["secret"]).verify(one.body, one.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(added["secret"]).verify(one.body, one.headers)
